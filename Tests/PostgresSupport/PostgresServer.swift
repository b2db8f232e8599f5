public import Foundation
public import Glibc
public import OTPGatePostgres
import OTPGateTestSupport

/// A real PostgreSQL 15 for one test: a fresh cluster in a temporary directory (a copy
/// of one `initdb` per test process, InitdbTemplate), the postmaster as a child of
/// this process (so SIGKILL and restart are ours to do), listening on a socket in that
/// directory and on a free loopback port, fsync on.
/// As root, the server runs as the `postgres` user (PostgreSQL refuses root).
public final class PostgresServer: @unchecked Sendable {
    public static let bin = "/usr/lib/postgresql/15/bin"
    /// The superuser initdb creates; stands for the owner role in tests.
    public static let owner = "otpgate_owner"

    public let root: String
    public private(set) var port: Int
    public var dataDirectory: String { root + "/data" }
    public var logPath: String { root + "/server.log" }
    private var postmaster: ChildProcess?
    private let runAs: (uid: uid_t, gid: gid_t)?

    /// `superuser`: the role initdb creates (the otpgate schema needs a superuser other
    /// than its owner, which must not be one).
    public let superuser: String

    public init(config: [String] = [], superuser: String = PostgresServer.owner) throws {
        self.superuser = superuser
        var template = Array("\(InitdbTemplate.scratch)/otpgpg.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        root = String(cString: made)
        port = try Self.freePort()
        if geteuid() == 0 {
            guard let pw = getpwnam("postgres") ?? getpwnam("nobody") else { throw FixtureError("no postgres or nobody user") }
            runAs = (pw.pointee.pw_uid, pw.pointee.pw_gid)
            chown(root, pw.pointee.pw_uid, pw.pointee.pw_gid)
        } else {
            runAs = nil
        }
        chmod(root, 0o755)
        try InitdbTemplate.copy(superuser: superuser, runAs: runAs, to: dataDirectory)
        let settings = [
            "listen_addresses = '127.0.0.1'",
            "port = \(port)",
            "unix_socket_directories = '\(root)'",
            "fsync = on",
            "synchronous_commit = on",
            "max_connections = 60",
            "shared_buffers = 16MB",
            "log_connections = on",
            "log_disconnections = on",
            "log_line_prefix = '%m [%p] '",
            // A backend notices a client that went away while its query runs (the pool
            // closes at the deadline); recommended for a tier, too.
            "client_connection_check_interval = '100ms'",
        ] + config
        try appendSettings(settings)
        // freePort's port can be taken by another test before the postmaster binds it;
        // the postmaster then exits saying so, and starts again on another port.
        var attempts = 1
        while true {
            do {
                try start()
                return
            } catch where attempts < 3 && log().contains("Address already in use") {
                attempts += 1
                port = try Self.freePort()
                try appendSettings(["port = \(port)"])
            }
        }
    }

    /// Settings after initdb's in postgresql.conf (a later line wins).
    private func appendSettings(_ settings: [String]) throws {
        let conf = dataDirectory + "/postgresql.conf"
        guard let handle = FileHandle(forWritingAtPath: conf) else { throw FixtureError("cannot open \(conf)") }
        handle.seekToEndOfFile()
        handle.write(("\n" + settings.joined(separator: "\n") + "\n").data(using: .utf8)!)
        handle.closeFile()
    }

    deinit { remove() }

    /// Kills the server and removes its directory (for one that is never deinitialised,
    /// such as a test process's shared server, at exit).
    public func remove() {
        kill9()
        try? FileManager.default.removeItem(atPath: root)
    }

    public func settings(user: String = PostgresServer.owner, poolSize: Int = 2, deadline: Duration = .seconds(2),
                  singleNode: Bool = true) -> PostgresSettings {
        PostgresSettings(
            endpoint: .socket(directory: root, port: port), database: "postgres", user: user,
            poolSize: poolSize, deadline: deadline, connectTimeout: deadline, singleNode: singleNode)
    }

    /// Starts the postmaster and returns once postmaster.pid says "ready" (PostgreSQL's
    /// own readiness signal, what pg_ctl -w reads).
    public func start() throws {
        var arguments = [Self.bin + "/postgres", "-D", dataDirectory]
        var executable = arguments.removeFirst()
        if let runAs {
            arguments = ["--reuid=\(runAs.uid)", "--regid=\(runAs.gid)", "--clear-groups", "--", executable] + arguments
            executable = "/usr/bin/setpriv"
        }
        let log = try Descriptors.open(logPath, O_WRONLY | O_CREAT | O_APPEND)
        let null = try Descriptors.open("/dev/null", O_RDONLY)
        defer {
            close(log)
            close(null)
        }
        let child = try ChildProcess(executable, arguments, stdin: null, stdout: log, stderr: log)
        postmaster = child
        let until = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < until {
            if !child.isRunning {
                postmaster = nil
                throw FixtureError("postgres exited at start:\n\(logTail())")
            }
            if let file = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8) {
                let lines = file.split(separator: "\n", omittingEmptySubsequences: false)
                if lines.count > 7, lines[0] == "\(child.pid)", lines[7].hasPrefix("ready") { return }
            }
            usleep(20_000)
        }
        throw FixtureError("postgres not ready after 60 s:\n\(logTail())")
    }

    /// SIGKILL to the postmaster and every backend, as a crash of the host would; returns
    /// once they are gone.
    public func kill9() {
        guard let child = postmaster else { return }
        let pid = child.pid
        // Stopped first, so that it cannot fork a new child between the list and the
        // kill: a postmaster that sees a child die starts a recovery process at once,
        // and one forked after the list was taken outlived the kill, held the shared
        // memory block, and made the next start fail ("pre-existing shared memory
        // block is still in use").
        kill(pid, SIGSTOP)
        let children = Self.children(of: pid)
        for child in children { kill(child, SIGKILL) }
        kill(pid, SIGKILL)
        _ = child.wait()
        for child in children {
            while Self.isAlive(child) { usleep(5_000) }
        }
        postmaster = nil
    }

    /// Runs SQL through psql as the owner on the socket; returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String, user: String? = nil, database: String = "postgres") throws -> String {
        try runChecked(Self.bin + "/psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", root, "-p", "\(port)",
                                            "-U", user ?? superuser, "-d", database, "-c", sql], asServer: false)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a psql script file (one that may use meta-commands such as `\\gexec`).
    @discardableResult
    public func psql(file: String, user: String? = nil, database: String = "postgres") throws -> String {
        try runChecked(Self.bin + "/psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", root, "-p", "\(port)",
                                            "-U", user ?? superuser, "-d", database, "-f", file], asServer: false)
    }

    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func logTail() -> String { log().split(separator: "\n").suffix(20).joined(separator: "\n") }

    @discardableResult
    private func runChecked(_ executable: String, _ arguments: [String], asServer: Bool = true) throws -> String {
        var exe = executable
        var args = arguments
        if asServer, let runAs {
            exe = "/usr/bin/setpriv"
            args = ["--reuid=\(runAs.uid)", "--regid=\(runAs.gid)", "--clear-groups", "--", executable] + arguments
        }
        let (status, output) = try Self.run(exe, args)
        guard status == 0 else { throw FixtureError("\(executable) \(arguments.joined(separator: " ")) failed (\(status)):\n\(output)") }
        return output
    }

    /// Runs to the end (killed and refused after 60 s: a psql whose commit waits for a
    /// standby that does not exist would otherwise block its test); the exit status
    /// and everything it printed.
    public static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let c = try Command.run(executable, arguments, timeout: .seconds(60))
        return (c.status, c.stdout + c.stderr)
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw FixtureError("bind failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    public static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && fields[1] == "\(pid)" ? child : nil
        }
    }

    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return false
        }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }
}
