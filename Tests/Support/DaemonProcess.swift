import Foundation
import Glibc
import Synchronization

/// The real otpgated, run as a child process on a fresh temporary state directory:
/// started with an optional config (and, if asked, as another uid through setpriv),
/// ready once it says READY=1 on the notify socket the fixture gives it (it sends that
/// after both listeners are bound), stopped with SIGTERM or killed with SIGKILL, and
/// restartable on the same directory. Each run's stderr goes to a file of its own, so a
/// failing test can show what the daemon said. No wait here polls: readiness is a
/// datagram, an exit is a pidfd, both waited for in poll(2) with a deadline.
package final class DaemonProcess: Sendable {
    package static var binary: String { Programs.otpgated }

    /// The temporary directory, 0755 so that other uids can reach the public socket.
    package let directory: String
    /// `--state-dir`: created by the daemon inside `directory` (unless it runs as another uid).
    package let stateDirectory: String
    package let configPath: String
    /// When set, the daemon runs as this uid/gid (setpriv), as in production.
    package let owner: (uid: UInt32, gid: UInt32)?

    package var socketPath: String { stateDirectory + "/otpgated.sock" }
    package var adminSocketPath: String { stateDirectory + "/otpgated-admin.sock" }
    package var keyPath: String { stateDirectory + "/master.key" }
    package var storePath: String { stateDirectory + "/store/otpgate.db" }
    /// Where run `run`'s READY=1 (and STOPPING=1, WATCHDOG=1) arrive: one socket per
    /// run, so that nothing a previous run sent late is taken for this one's.
    package func notifyPath(run: Int) -> String { directory + "/notify.\(run).sock" }

    private struct State {
        var child: ChildProcess?
        var notify: NotifySocket?
        /// How many times the daemon was launched; names the stderr file of each run.
        var runs = 0
        var hasConfig = false
        var extraArguments: [String] = []
    }
    private let state = Mutex(State())

    /// Flags added to the next launches (e.g. --new-store).
    package var extraArguments: [String] {
        get { state.withLock { $0.extraArguments } }
        set { state.withLock { $0.extraArguments = newValue } }
    }

    /// Makes the directory, writes `config` (TOML) if given and, unless told not to,
    /// starts the daemon and waits until it is ready. `stateDirectory` makes this
    /// daemon use another one's state (to see a second daemon refuse it).
    package init(
        config: String? = nil, start: Bool = true, stateDirectory: String? = nil, owner: (uid: UInt32, gid: UInt32)? = nil
    ) throws {
        // A daemon that dies must not kill the test process with SIGPIPE.
        Glibc.signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/otpgated-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp: \(errnoText())") }
        directory = String(cString: made)
        chmod(directory, 0o755)
        self.stateDirectory = stateDirectory ?? directory + "/state"
        configPath = directory + "/otpgated.toml"
        self.owner = owner
        if let owner {
            // The daemon cannot create its directory in a root-owned one; give it its own.
            mkdir(self.stateDirectory, 0o755)
            chmod(self.stateDirectory, 0o755)  // whatever the umask
            chown(self.stateDirectory, owner.uid, owner.gid)
        }
        if let config { try writeConfig(config) }
        if start { try self.start() }
    }

    /// `init` from an async test: the waits run on a thread of their own.
    package static func started(config: String? = nil, owner: (uid: UInt32, gid: UInt32)? = nil) async throws -> DaemonProcess {
        try await onThread { try DaemonProcess(config: config, owner: owner) }
    }

    deinit {
        if let child = state.withLock({ $0.child }), child.isRunning { child.killAndWait() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `config` with `policy.recovery_codes = 1`, for tests that enrol but do not
    /// look at recovery codes: a first token's batch then costs one scrypt run at
    /// production parameters instead of ten (the parameters are not configurable, and
    /// stay so).
    package static func oneRecoveryCode(_ config: String = "") -> String {
        let line = "recovery_codes = 1\n"
        guard let policy = config.range(of: "[policy]\n") else { return config + (config.isEmpty || config.hasSuffix("\n") ? "" : "\n") + "[policy]\n" + line }
        return config.replacingCharacters(in: policy, with: "[policy]\n" + line)
    }

    /// Replaces the config used by the next start.
    package func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        chmod(configPath, 0o644)  // whatever the umask (see init)
        state.withLock { $0.hasConfig = true }
    }

    // MARK: - Running

    /// Launches the daemon and waits until it is ready.
    package func start(timeout: Duration = .seconds(20)) throws {
        try launch()
        try waitUntilReady(timeout: timeout)
    }

    package func start(timeout: Duration = .seconds(20)) async throws {
        try await onThread { try self.start(timeout: timeout) }
    }

    /// Launches the daemon without waiting (for a start that is expected to fail, or
    /// to read its notifications yourself: `notifications`). `environment` is added to
    /// the daemon's (e.g. WATCHDOG_USEC).
    package func launch(environment extra: [String: String] = [:]) throws {
        if isRunning { throw FixtureError("otpgated is already running") }
        let (run, hasConfig, extraArguments) = state.withLock { state in
            state.runs += 1
            return (state.runs, state.hasConfig, state.extraArguments)
        }
        var arguments = ["--state-dir", stateDirectory] + (hasConfig ? ["--config", configPath] : []) + extraArguments
        var executable = Self.binary
        if let owner {
            arguments = ["--reuid=\(owner.uid)", "--regid=\(owner.gid)", "--clear-groups", "--", Programs.forOtherUsers(executable)]
                + arguments
            executable = "/usr/bin/setpriv"
        }
        var environment = ProcessInfo.processInfo.environment
        // No systemd hand-overs from whatever runs the tests; our own notify socket.
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            environment[key] = nil
        }
        let notify = try NotifySocket(path: notifyPath(run: run), othersMaySend: owner != nil)
        environment["NOTIFY_SOCKET"] = notify.path
        environment.merge(extra) { $1 }

        let log = try Descriptors.open(logPath(run: run), O_WRONLY | O_CREAT | O_TRUNC)
        let null = try Descriptors.open("/dev/null", O_RDWR)
        defer {
            close(log)
            close(null)
        }
        let child = try ChildProcess(executable, arguments, environment: environment, stdin: null, stdout: null, stderr: log)
        state.withLock {
            $0.child = child
            $0.notify = notify
        }
    }

    /// Waits for READY=1 from the daemon launched last; throws (with its stderr) when it
    /// exits first or takes longer than `timeout`.
    package func waitUntilReady(timeout: Duration = .seconds(20)) throws {
        guard let (child, notify) = state.withLock({ s in s.child.flatMap { c in s.notify.map { (c, $0) } } }) else {
            throw FixtureError("otpgated was not launched")
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let (message, ended) = notify.receive(until: deadline, orEndOf: child)
            if message == "READY=1" { return }
            if ended || !child.isRunning {
                throw FixtureError("otpgated exited (\(child.wait())) before it was ready; stderr:\n\(log)")
            }
            if message == nil && ContinuousClock.now >= deadline {
                throw FixtureError("otpgated did not send READY=1 within \(timeout); stderr:\n\(log)")
            }
        }
    }

    /// The notify socket of the current run, for tests of what the daemon tells systemd.
    package var notifications: NotifySocket? { state.withLock { $0.notify } }

    private var child: ChildProcess? { state.withLock { $0.child } }

    package var isRunning: Bool { child?.isRunning ?? false }

    package var pid: Int32 { child?.pid ?? 0 }

    /// How the last run ended; nil while it runs (or before the first).
    package var termination: ChildProcess.Termination? { child?.poll() }

    /// The exit status of the last run (or the signal number if it was killed); -1 while it runs.
    package var terminationStatus: Int32 { termination?.status ?? -1 }

    /// Whether the last run ended by a signal rather than by exiting.
    package var wasSignalled: Bool { termination?.signalled ?? false }

    /// Waits for the daemon to exit by itself; false if it is still running.
    package func waitForExit(timeout: Duration) -> Bool {
        guard let child else { return true }
        return child.wait(timeout: timeout) != nil
    }

    /// Sends `signal` to the running daemon.
    package func signal(_ signal: Int32) {
        child?.signal(signal)
    }

    /// SIGTERM, then waits; returns the exit status. A daemon that does not exit
    /// within `timeout` is killed, and one that ends by a signal gives -1.
    @discardableResult
    package func stop(timeout: Duration = .seconds(10)) -> Int32 {
        guard let child, child.isRunning else { return terminationStatus }
        child.signal(SIGTERM)
        if let end = child.wait(timeout: timeout) { return end.signalled ? -1 : end.status }
        child.killAndWait()
        return -1
    }

    @discardableResult
    package func stop(timeout: Duration = .seconds(10)) async -> Int32 {
        (try? await onThread { self.stop(timeout: timeout) }) ?? -1
    }

    /// SIGKILL, and waits until it is gone.
    package func kill() {
        guard let child, child.isRunning else { return }
        child.killAndWait()
    }

    /// Stops (if still running) and starts again on the same directory.
    package func restart() throws {
        if isRunning { stop() }
        try start()
    }

    // MARK: - Talking to it

    package func connect() throws -> SocketClient {
        try SocketClient(path: socketPath)
    }

    package func connectAdmin() throws -> SocketClient {
        try SocketClient(path: adminSocketPath)
    }

    /// Open descriptors of the running daemon (its listeners, store and connections).
    package var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    // MARK: - What it said

    package func logPath(run: Int) -> String { directory + "/stderr.\(run).log" }

    package var runs: Int { state.withLock { $0.runs } }

    /// The stderr of the current (or last) run.
    package var log: String { log(run: runs) }

    package func log(run: Int) -> String {
        (try? String(contentsOfFile: logPath(run: run), encoding: .utf8)) ?? ""
    }

    /// The stderr of every run so far.
    package var allLogs: String { (0..<runs).map { log(run: $0 + 1) }.joined() }
}
