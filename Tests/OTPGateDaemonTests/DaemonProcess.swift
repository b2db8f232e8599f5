import Foundation
import Glibc
import OTPGateProtocol

/// The real otpgated binary, run as a child process on a fresh temporary state
/// directory: started with an optional config, ready once `health` answers, stopped
/// with SIGTERM (or killed with SIGKILL), restartable on the same directory. Each
/// run's stderr goes to a file, so a failing test can show what the daemon said.
final class DaemonProcess {
    /// The otpgated built next to this test bundle (the test target depends on it).
    static let binary: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("otpgated").path
    }()

    /// The temporary directory, 0755 so that other uids can reach the public socket.
    let directory: String
    /// `--state-dir`: created by the daemon inside `directory`.
    let stateDirectory: String
    let configPath: String

    var socketPath: String { stateDirectory + "/otpgated.sock" }
    var adminSocketPath: String { stateDirectory + "/otpgated-admin.sock" }
    var keyPath: String { stateDirectory + "/master.key" }
    var storePath: String { stateDirectory + "/store/otpgate.db" }

    /// Flags added to the next launches (e.g. --new-store).
    var extraArguments: [String] = []
    private var process: Process?
    /// How many times the daemon was launched; names the stderr file of each run.
    private(set) var runs = 0
    private var hasConfig = false

    /// Makes the directory, writes `config` (TOML) if given and, unless told not to,
    /// starts the daemon and waits until it answers. `stateDirectory` makes this
    /// daemon use another one's state (to see a second daemon refuse it).
    init(config: String? = nil, start: Bool = true, stateDirectory: String? = nil) throws {
        // A daemon that dies must not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/otpgated-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw FixtureError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        chmod(directory, 0o755)
        self.stateDirectory = stateDirectory ?? directory + "/state"
        configPath = directory + "/otpgated.toml"
        if let config { try writeConfig(config) }
        if start { try self.start() }
    }

    deinit {
        if let process, process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Replaces the config used by the next start.
    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        hasConfig = true
    }

    // MARK: - Running

    /// Launches the daemon and waits until it answers `health`.
    func start(timeout: Duration = .seconds(15)) throws {
        try launch()
        try waitUntilReady(timeout: timeout)
    }

    /// Launches the daemon without waiting (for a start that is expected to fail).
    func launch() throws {
        if let process, process.isRunning { throw FixtureError("otpgated is already running") }
        runs += 1
        let logPath = self.logPath(run: runs)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw FixtureError("cannot create \(logPath)") }
        defer { try? log.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["--state-dir", stateDirectory] + (hasConfig ? ["--config", configPath] : []) + extraArguments
        // No systemd hand-overs from whatever runs the tests.
        var environment = ProcessInfo.processInfo.environment
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY"] {
            environment[key] = nil
        }
        p.environment = environment
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = log
        try p.run()
        process = p
    }

    /// Polls until `health` is answered on both sockets; throws (with the
    /// daemon's stderr) when it exits first or takes too long.
    func waitUntilReady(timeout: Duration = .seconds(15)) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isRunning else {
                throw FixtureError("otpgated exited with status \(terminationStatus) before it was ready; stderr:\n\(log)")
            }
            // Both sockets: the daemon binds them one after the other, and the public
            // one may answer before the admin one exists (READY=1 follows both).
            if [socketPath, adminSocketPath].allSatisfy({ path in
                guard let client = try? SocketClient(path: path), let reply = try? client.call("health", timeout: .seconds(2))
                else { return false }
                return reply.isSuccess
            }) {
                return
            }
            usleep(20_000)
        }
        throw FixtureError("otpgated did not answer health within \(timeout); stderr:\n\(log)")
    }

    var isRunning: Bool { process?.isRunning ?? false }

    var pid: Int32 { process?.processIdentifier ?? 0 }

    /// The exit status of the last run (or the signal number if it was killed).
    var terminationStatus: Int32 { process?.terminationStatus ?? -1 }

    /// Whether the last run ended by a signal rather than by exiting.
    var wasSignalled: Bool { process?.terminationReason == .uncaughtSignal }

    /// Waits for the daemon to exit by itself; false if it is still running.
    func waitForExit(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// SIGTERM, then waits; returns the exit status. A daemon that does not exit
    /// within `timeout` is killed and the status is -1.
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) -> Int32 {
        guard let process, process.isRunning else { return terminationStatus }
        Glibc.kill(process.processIdentifier, SIGTERM)
        if waitForExit(timeout: timeout) { return wasSignalled ? -1 : process.terminationStatus }
        kill()
        return -1
    }

    /// SIGKILL, and waits until it is gone.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops (if still running) and starts again on the same directory.
    func restart() throws {
        if isRunning { stop() }
        try start()
    }

    // MARK: - Talking to it

    func connect() throws -> SocketClient {
        try SocketClient(path: socketPath)
    }

    func connectAdmin() throws -> SocketClient {
        try SocketClient(path: adminSocketPath)
    }

    /// Open descriptors of the running daemon (its listeners, store and connections).
    var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    // MARK: - What it said

    func logPath(run: Int) -> String { directory + "/stderr.\(run).log" }

    /// The stderr of the current (or last) run.
    var log: String { log(run: runs) }

    func log(run: Int) -> String {
        (try? String(contentsOfFile: logPath(run: run), encoding: .utf8)) ?? ""
    }

    /// The stderr of every run so far.
    var allLogs: String { (0..<runs).map { log(run: $0 + 1) }.joined() }
}
