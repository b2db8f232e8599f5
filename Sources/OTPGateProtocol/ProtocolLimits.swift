/// The numbers of wire protocol v1 that both sides must agree on.
///
/// Lengths are in bytes of UTF-8, because that is what a C client (the PAM module)
/// can check without decoding, and what bounds memory.
public enum ProtocolLimits: Sendable {
    /// The protocol version this module speaks; requests carry it as `"v"`.
    public static let version = 1

    /// Longest request line, not counting its terminating newline. The daemon closes a
    /// connection whose line grows past this without waiting for the rest.
    public static let maxRequestLineBytes = 8192

    /// Longest reply line, not counting its newline. Big enough for `admin.audit` with
    /// its largest `limit`; a `verify` reply is always far below 1 KiB, so the PAM module
    /// may use a much smaller buffer.
    public static let maxReplyLineBytes = 16 * 1024 * 1024

    public static let maxRequestIDBytes = 128
    public static let maxUserBytes = 256
    /// One-time codes, or recovery codes with their group separators.
    public static let maxCodeBytes = 64
    public static let maxServiceBytes = 256
    public static let maxRhostBytes = 256
    public static let maxTTYBytes = 256
    public static let maxTokenNameBytes = 64
    public static let maxTokenIDBytes = 64
    public static let maxEnrollmentIDBytes = 64

    public static let digits: ClosedRange<Int> = 6...8
    /// TOTP step in seconds: anything from one second to one day.
    public static let period: ClosedRange<Int> = 1...86400
    public static let auditLimit: ClosedRange<Int> = 1...10000
}
