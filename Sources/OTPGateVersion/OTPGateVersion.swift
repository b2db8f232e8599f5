/// The release of otpgate, one string for the daemon (`health`, `--version`) and the
/// CLI (`--version`), in a module of its own so that neither links the other for it.
public enum OTPGateVersion {
    public static let current = "0.1.0"
}
