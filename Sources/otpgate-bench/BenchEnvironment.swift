import Foundation
import GRDB
import Glibc

/// A state directory with an enrolled population and a config file, ready for
/// `otpgated --state-dir`. Removes a directory it created itself when done.
final class BenchEnvironment {
    let options: CommonOptions
    let directory: String
    let population: Population
    let ownsDirectory: Bool
    /// Seconds it took to enrol the population (nil when it was reused).
    let enrolSeconds: Double?
    var configPath: String { directory + "/bench-otpgated.toml" }
    var logPath: String { directory + "/otpgated.log" }

    init(_ options: CommonOptions, say: (String) -> Void) throws {
        self.options = options
        if let dir = options.stateDirectory {
            directory = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
            ownsDirectory = false
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else {
            var template = Array("/var/tmp/otpgate-bench-XXXXXX".utf8CString)
            guard let p = mkdtemp(&template) else { throw BenchError("mkdtemp under /var/tmp failed") }
            directory = String(cString: p)
            ownsDirectory = true
        }
        chmod(directory, 0o755)
        try Self.refuseTmpfs(directory)
        guard FileManager.default.isExecutableFile(atPath: options.otpgatedPath()) else {
            throw BenchError("no otpgated at \(options.otpgatedPath()); build it (swift build -c release) or pass --otpgated")
        }
        if let existing = try Population.open(directory: directory) {
            guard existing.users == options.users, existing.kind == options.kind, existing.period == options.period else {
                throw BenchError(
                    "\(directory) holds \(existing.users) \(existing.kind.rawValue) users (period \(existing.period)), not \(options.users) \(options.kind.rawValue) (period \(options.period)); use another --state-dir")
            }
            population = existing
            enrolSeconds = nil
            say("reusing \(existing.users) enrolled users in \(directory)")
        } else {
            say("enrolling \(options.users) \(options.kind.rawValue) users in \(directory)")
            let t0 = Monotonic.now()
            population = try Population.create(
                directory: directory, users: options.users, kind: options.kind, period: options.period, progress: say)
            enrolSeconds = Monotonic.seconds(Monotonic.now() - t0)
        }
        var config = "# written by otpgate-bench; everything else is otpgated's default\n"
        if let threads = options.workerThreads { config += "[server]\nworker_threads = \(threads)\n" }
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts otpgated (or, with `executable`, the floor server) on this directory,
    /// after clearing the limiter: every scenario starts with no failures counted,
    /// whatever earlier runs on a reused `--state-dir` left behind.
    func startDaemon(executable: String? = nil, straceOutput: String? = nil) throws -> DaemonProcess {
        try Self.resetLimiter(databasePath: population.databasePath)
        return try DaemonProcess(
            executable: executable ?? options.otpgatedPath(), stateDirectory: directory, config: configPath,
            logPath: logPath, straceOutput: straceOutput)
    }

    /// Deletes every limiter row (failure counts and locks) of the store, with no
    /// daemon running; returns how many there were.
    @discardableResult
    static func resetLimiter(databasePath: String) throws -> Int {
        do {
            let queue = try DatabaseQueue(path: databasePath)
            return try queue.write { db in
                try db.execute(sql: "DELETE FROM limiter")
                return db.changesCount
            }
        } catch {
            throw BenchError("cannot reset the limiter in \(databasePath): \(error)")
        }
    }

    func finish() {
        population.save()
        if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// How long the daemon's log is now: pass it to `writeStatistics(since:)`.
    func logSize() -> Int {
        (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0
    }

    /// What the daemon said about its store writes when it stopped (see Daemon.run),
    /// in the part of the log after `offset`: transactions committed and writes in
    /// them. Nil for a daemon that does not log them (one from before group commit).
    func writeStatistics(since offset: Int) -> (transactions: Int, writes: Int)? {
        guard let data = FileManager.default.contents(atPath: logPath), data.count > offset else { return nil }
        let text = String(decoding: data[offset...], as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { $0.contains("store.transactions=") }) else { return nil }
        func value(_ key: String) -> Int? {
            guard let r = line.range(of: key + "=") else { return nil }
            return Int(line[r.upperBound...].prefix(while: { $0.isNumber }))
        }
        guard let t = value("store.transactions"), let w = value("store.writes") else { return nil }
        return (t, w)
    }

    /// fsync and fdatasync calls counted by `strace -c` in `path`.
    static func syncCalls(inStraceSummary path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        var total = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let name = f.last, name == "fsync" || name == "fdatasync", f.count >= 5 else { continue }
            // % time, seconds, usecs/call, calls, [errors,] syscall
            total += Int(f[3]) ?? 0
        }
        return total
    }

    /// fsync on tmpfs costs nothing, which would make every durable figure a lie.
    static func refuseTmpfs(_ dir: String) throws {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return }
        // The longest mount point that contains `dir` decides.
        var best = ("", "")
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 3 else { continue }
            let point = String(f[1])
            let inside = point == "/" || dir == point || dir.hasPrefix(point + "/")
            if inside && point.count > best.0.count { best = (point, String(f[2])) }
        }
        if best.1 == "tmpfs" || best.1 == "ramfs" {
            throw BenchError("\(dir) is on \(best.1), where fsync is free; use a directory on a real disk")
        }
    }
}
