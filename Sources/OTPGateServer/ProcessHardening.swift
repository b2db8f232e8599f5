internal import COTPGateSystem

/// Process-wide protections the daemon applies at start.
public enum ProcessHardening {
    /// No core dumps and no ptrace by other processes of the same uid: the daemon's
    /// memory holds decrypted secrets and the master key. Returns false on failure.
    @discardableResult
    public static func disableCoreDumps() -> Bool {
        otpgate_disable_core_dumps() == 0
    }
}
