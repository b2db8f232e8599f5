import Foundation
import Glibc

/// The real `otpgated --state-dir DIR` as a child process, optionally under
/// `strace -f -c` to count its fsync and fdatasync calls.
final class DaemonProcess {
    /// The process we spawned: otpgated itself, or strace.
    let spawnedPID: pid_t
    /// otpgated's pid (strace's child when traced).
    private(set) var pid: pid_t
    let stateDirectory: String
    let spawnedAt: UInt64
    let straceOutput: String?
    private var exited = false

    var socketPath: String { stateDirectory + "/otpgated.sock" }
    var adminSocketPath: String { stateDirectory + "/otpgated-admin.sock" }

    /// Starts the daemon with `config` as its config file; its output goes to `logPath`.
    /// `prefix` runs it through another program that execs it (`setpriv` to run it as
    /// another user), so the pid stays the daemon's.
    init(
        executable: String, stateDirectory: String, config: String, logPath: String, straceOutput: String? = nil,
        prefix: [String] = []
    ) throws {
        self.stateDirectory = stateDirectory
        self.straceOutput = straceOutput
        var arguments = prefix + [executable, "--state-dir", stateDirectory, "--config", config]
        if let straceOutput {
            arguments = ["/usr/bin/strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", straceOutput] + arguments
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        spawnedAt = Monotonic.now()
        let rc = posix_spawn(&child, arguments[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        spawnedPID = child
        pid = child
    }

    deinit {
        if !exited {
            kill(pid, SIGKILL)
            if spawnedPID != pid { kill(spawnedPID, SIGKILL) }
            var status: Int32 = 0
            waitpid(spawnedPID, &status, 0)
        }
    }

    /// Waits until the public socket answers `health`; returns nanoseconds since spawn.
    func waitUntilReady(timeout: Double = 120) throws -> UInt64 {
        let deadline = spawnedAt + UInt64(timeout * 1e9)
        while Monotonic.now() < deadline {
            var status: Int32 = 0
            if waitpid(spawnedPID, &status, WNOHANG) == spawnedPID {
                exited = true
                throw BenchError("otpgated exited during start-up (status \(status)); see its log in \(stateDirectory)")
            }
            if let connection = try? LineConnection(path: socketPath),
                let reply = try? connection.exchange(#"{"v":1,"op":"health"}"#), reply.contains(#""ok":true"#)
            {
                let ready = Monotonic.now() - spawnedAt
                if straceOutput != nil { pid = Self.child(of: spawnedPID) ?? spawnedPID }
                return ready
            }
            usleep(200)
        }
        throw BenchError("otpgated did not answer health within \(Int(timeout)) s")
    }

    /// (VmRSS, VmHWM) in KiB, from /proc/PID/status.
    func memory() -> (rss: Int, peak: Int) {
        let m = memoryDetail()
        return (m.rss, m.peak)
    }

    /// VmRSS and VmHWM, and VmRSS split into RssAnon (the daemon's own heap, stacks,
    /// SQLite caches) and RssFile (pages of the binary and shared libraries it has
    /// touched, shared with every other process that maps them), in KiB.
    func memoryDetail() -> (rss: Int, peak: Int, anon: Int, file: Int) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0, 0, 0) }
        func field(_ name: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return (field("VmRSS"), field("VmHWM"), field("RssAnon"), field("RssFile"))
    }

    /// User plus system CPU seconds used so far, from /proc/PID/stat.
    func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, then waits for a graceful exit (SIGKILL after `timeout`). Returns
    /// the exit status of otpgated (or of strace, which passes it on).
    @discardableResult
    func stop(timeout: Double = 30) -> Int32 {
        guard !exited else { return -1 }
        kill(pid, SIGTERM)
        let deadline = Monotonic.now() + UInt64(timeout * 1e9)
        var status: Int32 = 0
        while waitpid(spawnedPID, &status, WNOHANG) == 0 {
            if Monotonic.now() > deadline {
                kill(pid, SIGKILL)
                waitpid(spawnedPID, &status, 0)
                break
            }
            usleep(1000)
        }
        exited = true
        return (status >> 8) & 0xff
    }

    private static func child(of parent: pid_t) -> pid_t? {
        let path = "/proc/\(parent)/task/\(parent)/children"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { pid_t($0) }
    }
}
