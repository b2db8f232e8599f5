/// Whether a token moves with the clock (TOTP, RFC 6238) or with a counter (HOTP, RFC 4226).
public enum OTPKind: String, Sendable, Hashable, CaseIterable, Codable {
    case totp
    case hotp
}
