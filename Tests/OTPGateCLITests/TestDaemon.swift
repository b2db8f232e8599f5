import Foundation
import Glibc
import OTPGateClient
import Synchronization

/// The real otpgated on a fresh temporary directory, `otpgated --state-dir DIR`: ready
/// once `health` answers, stopped with SIGTERM, killed and cleaned up at the end.
/// (A lean version of OTPGateDaemonTests/DaemonProcess.swift, which a test target cannot
/// import; its waits run on threads of their own, see `onThread`, and tests talk to the
/// daemon through OTPGateClient.)
final class TestDaemon: Sendable {
    /// The temporary directory, 0755 so that other uids reach the public socket.
    let directory: String
    /// `--state-dir`.
    let stateDirectory: String
    let configPath: String?
    /// When set, the daemon runs as this uid/gid (setpriv), as in production.
    let owner: (uid: UInt32, gid: UInt32)?

    var socketPath: String { stateDirectory + "/otpgated.sock" }
    var adminSocketPath: String { stateDirectory + "/otpgated-admin.sock" }
    var keyPath: String { stateDirectory + "/master.key" }
    var logPath: String { directory + "/otpgated.log" }

    /// A client for the public socket, and one for the admin socket.
    var client: OTPGateClient { OTPGateClient(socketPath: socketPath, timeout: .seconds(10)) }
    var admin: OTPGateClient { OTPGateClient(socketPath: adminSocketPath, timeout: .seconds(10)) }

    private let process = Mutex<ChildProcess?>(nil)

    /// Makes the directory, writes `config` (TOML) if given, and starts the daemon.
    init(config: String? = nil, owner: (uid: UInt32, gid: UInt32)? = nil) async throws {
        // A daemon that dies must not take the test process with it through SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/otpgate-cli-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        stateDirectory = directory + "/state"
        self.owner = owner
        if let owner {
            // The daemon cannot create its directory in a root-owned one; give it its own.
            mkdir(stateDirectory, 0o755)
            chown(stateDirectory, owner.uid, owner.gid)
        }
        if let config {
            configPath = directory + "/otpgated.toml"
            try config.write(toFile: directory + "/otpgated.toml", atomically: true, encoding: .utf8)
        } else {
            configPath = nil
        }
        try await start()
    }

    deinit {
        if let child = process.withLock({ $0 }), child.poll() == nil {
            child.signal(SIGKILL)
            child.wait()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Launches the daemon and waits until `health` answers on the public socket.
    func start(timeout: Duration = .seconds(20)) async throws {
        var arguments = ["--state-dir", stateDirectory]
        if let configPath { arguments += ["--config", configPath] }
        var executable = Programs.otpgated
        if let owner {
            executable = Programs.forOtherUsers(executable)
            arguments = ["--reuid=\(owner.uid)", "--regid=\(owner.gid)", "--clear-groups", "--", executable] + arguments
            executable = "/usr/bin/setpriv"
        }
        var environment = ProcessInfo.processInfo.environment
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY"] {
            environment[key] = nil  // no systemd hand-overs from whatever runs the tests
        }
        let log = try Descriptors.open(logPath, O_WRONLY | O_CREAT | O_APPEND)
        let null = try Descriptors.open("/dev/null", O_RDONLY)
        defer {
            close(log)
            close(null)
        }
        let child = try ChildProcess(executable, arguments, environment: environment, stdin: null, stdout: log, stderr: log)
        process.withLock { $0 = child }

        let socket = socketPath
        let ended = try await onThread { () -> ChildProcess.Termination? in
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let end = child.poll() { return end }
                if Self.answersHealth(socket) { return nil }
                usleep(20_000)
            }
            throw FixtureError("otpgated did not answer health within \(timeout)")
        }
        if let ended { throw FixtureError("otpgated ended (\(ended)) before it was ready:\n\(self.log())") }
    }

    /// SIGTERM, and waits for the exit (SIGKILL after `timeout`).
    func stop(timeout: Duration = .seconds(10)) async {
        guard let child = process.withLock({ $0 }), child.poll() == nil else { return }
        _ = try? await onThread {
            child.signal(SIGTERM)
            let deadline = ContinuousClock.now + timeout
            while child.poll() == nil && ContinuousClock.now < deadline { usleep(10_000) }
            child.signal(SIGKILL)
            child.wait()
        }
    }

    /// Whether a `health` request on `path` is answered with success within 2 s (plain
    /// blocking calls, for `onThread`).
    private static func answersHealth(_ path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let request = Array("{\"v\":1,\"op\":\"health\"}\n".utf8)
        guard connected == 0, send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return false }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(UInt8(ascii: "\n")) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 2000) == 1 else { return false }
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return false }
            reply += chunk[0..<n]
        }
        return String(decoding: reply, as: UTF8.self).contains("\"ok\":true")
    }

    /// What the daemon wrote to stdout and stderr so far, for failure messages.
    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
