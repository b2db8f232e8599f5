package import Glibc
import Synchronization

/// A child process started with posix_spawn: the one way every test target starts a
/// program (the daemon, the CLI, python3 probes, useradd).
///
/// Why posix_spawn and not Foundation's `Process`: on Linux `Process` emulates
/// close-on-exec by listing every open descriptor at spawn time, which races with other
/// threads opening and closing descriptors (with tests running in parallel that gave
/// EBADF from `run()`, and once one program's stderr in another test's pipe), and its
/// exit monitoring needs Dispatch threads that blocked waits starve. Why not
/// swift-subprocess: its processes live inside the closure of an async `run`, and the
/// daemon fixture needs one that outlives a call (started, killed and restarted across
/// a synchronous test) and a signal sent by pid from any thread.
///
/// Here every descriptor the fixtures open is close-on-exec, the child gets only the
/// three it is given (closefrom(3) in the child), and it is reaped only under a lock
/// that `signal` takes too, so a signal never reaches a recycled pid. Its end is
/// watched through a pidfd, so waits with a deadline block in poll(2), never in a
/// loop of sleeps.
package final class ChildProcess: Sendable {
    package struct Termination: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or the signal number when `signalled`.
        package let status: Int32
        package let signalled: Bool

        package var description: String { signalled ? "killed by signal \(status)" : "exit status \(status)" }
    }

    package let pid: pid_t
    /// Readable once the child has ended (pidfd_open(2)), for poll(2) beside other descriptors.
    package let exitDescriptor: Int32
    private let ended = Mutex<Termination?>(nil)

    /// Starts `executable` with `arguments` (argv[0] is the executable) and the given
    /// descriptors as its stdin, stdout and stderr. `environment` nil: this process's.
    /// The child starts with SIGPIPE at its default and no blocked signals, as from a
    /// shell, whatever this process ignores.
    package init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: Int32, stdout: Int32, stderr: Int32
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Nothing else: a descriptor opened elsewhere in this process without
        // close-on-exec would otherwise keep some pipe reader from seeing end of file.
        _ = GNU.addCloseFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }

        var pid: pid_t = 0
        let rc = envp.map { posix_spawn(&pid, executable, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw FixtureError("cannot start \(executable): \(errnoText(rc))") }
        // Not reaped yet, so the pid cannot have been reused.
        let pidfd = GNU.pidfdOpen(pid, 0)
        guard pidfd >= 0 else {
            let reason = errnoText()
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw FixtureError("pidfd_open(\(pid)): \(reason)")
        }
        self.pid = pid
        self.exitDescriptor = pidfd
    }

    deinit {
        close(exitDescriptor)
    }

    /// How it ended, or nil while it runs (reaps it if it has ended).
    package func poll() -> Termination? {
        ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { ended = Self.termination(status) }
            }
            return ended
        }
    }

    package var isRunning: Bool { poll() == nil }

    /// Blocks the calling thread until it ends.
    @discardableResult
    package func wait() -> Termination {
        while true {
            if let end = wait(until: .now + .seconds(3600)) { return end }
        }
    }

    /// Blocks the calling thread until it ends or `timeout` passes (nil then).
    package func wait(timeout: Duration) -> Termination? {
        wait(until: .now + timeout)
    }

    package func wait(until deadline: ContinuousClock.Instant) -> Termination? {
        if let end = poll() { return end }
        guard Descriptors.poll([exitDescriptor], until: deadline) != nil else { return poll() }
        // Readable: it has ended (and is reaped here, under the lock).
        return ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                ended = Self.termination(status)
            }
            return ended
        }
    }

    /// Sends `signal` unless the process has been reaped already.
    package func signal(_ signal: Int32) {
        ended.withLock { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }

    /// SIGKILL and wait (for fixtures' deinit and a watchdog).
    package func killAndWait() {
        signal(SIGKILL)
        wait()
    }

    private static func termination(_ status: Int32) -> Termination {
        status & 0x7f == 0
            ? Termination(status: (status >> 8) & 0xff, signalled: false) : Termination(status: status & 0x7f, signalled: true)
    }
}
