import Glibc
import Synchronization

/// A child process started with posix_spawn, for the programs under test.
///
/// Why not Foundation's `Process`: on Linux it emulates close-on-exec by listing every
/// open descriptor at spawn time, which races with other threads opening and closing
/// descriptors. With tests running in parallel that gave EBADF from `run()`, and once
/// one program's stderr landing in another test's stdout pipe; its exit monitoring also
/// needs Dispatch threads, which blocked waits starve. Here every descriptor this target
/// opens is close-on-exec (`pipe2(O_CLOEXEC)`, `open(O_CLOEXEC)`), the child gets only
/// the three it is given (closefrom(3) in the child), and the process is reaped only
/// under a lock that `signal` takes too, so a signal never reaches a recycled pid.
final class ChildProcess: Sendable {
    struct Termination: Sendable, Equatable {
        /// The exit status, or the signal number when `signalled`.
        let status: Int32
        let signalled: Bool
    }

    let pid: pid_t
    private let ended = Mutex<Termination?>(nil)

    /// Starts `executable` with `arguments` (argv[0] is the executable) and the given
    /// descriptors as its stdin, stdout and stderr. `environment` nil: this process's.
    /// The child starts with SIGPIPE at its default and no blocked signals, as from a
    /// shell, whatever this process ignores.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: Int32, stdout: Int32, stderr: Int32
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Nothing else: other test targets in this process open descriptors without
        // close-on-exec (Foundation's Pipe), and a child of ours holding their pipe ends
        // would keep their readers from seeing end of file.
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
        guard rc == 0 else { throw FixtureError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// How it ended, or nil while it runs (reaps it if it has ended).
    func poll() -> Termination? {
        ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { ended = Self.termination(status) }
            }
            return ended
        }
    }

    /// Blocks the calling thread until it ends.
    @discardableResult
    func wait() -> Termination {
        // Wait without reaping, so that `signal` cannot hit a recycled pid; reap under the lock.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        return ended.withLock { ended in
            if ended == nil {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                ended = Self.termination(status)
            }
            return ended!
        }
    }

    /// Sends `signal` unless the process has been reaped already.
    func signal(_ signal: Int32) {
        ended.withLock { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }

    private static func termination(_ status: Int32) -> Termination {
        status & 0x7f == 0 ? Termination(status: (status >> 8) & 0xff, signalled: false) : Termination(status: status & 0x7f, signalled: true)
    }
}
