internal import COTPGateSystem
internal import Glibc

/// Process-wide protections the daemon applies at start.
public enum ProcessHardening {
    /// No core dumps and no ptrace by other processes of the same uid: the daemon's
    /// memory holds decrypted secrets and the master key. Returns false on failure.
    @discardableResult
    public static func disableCoreDumps() -> Bool {
        otpgate_disable_core_dumps() == 0
    }

    /// Signals that end the process, whoever sends them.
    static let fatalSignals = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS]

    /// Gives the fatal signals back their default action: terminate (without a core,
    /// see `disableCoreDumps`). The Swift runtime's backtracer catches them otherwise,
    /// and it (1) prints registers with the memory they point to, which can hold
    /// secrets, to stderr, i.e. the journal, and (2) after a signal sent with kill(2)
    /// returns into the process, which keeps running in whatever state made someone
    /// send it. The unit also sets SWIFT_BACKTRACE=enable=no, so the backtracer is not
    /// even set up; this makes it so however the daemon is started. Returns false if
    /// a handler could not be reset.
    @discardableResult
    public static func makeFatalSignalsFatal() -> Bool {
        var ok = true
        for sig in fatalSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigemptyset(&action.sa_mask)
            if sigaction(sig, &action, nil) != 0 { ok = false }
        }
        return ok
    }
}
