/// The HMAC hash behind a token (RFC 6238 §1.2 allows SHA-1, SHA-256 and SHA-512).
public enum OTPAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    /// Parses the names used in otpauth:// URIs and config, case-insensitively.
    public init?(name: String) {
        switch name.uppercased() {
        case "SHA1", "SHA-1": self = .sha1
        case "SHA256", "SHA-256": self = .sha256
        case "SHA512", "SHA-512": self = .sha512
        default: return nil
        }
    }
}
