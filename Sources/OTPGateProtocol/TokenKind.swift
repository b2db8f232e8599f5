/// `kind` on the wire: a token driven by the clock (RFC 6238) or by a counter (RFC 4226).
public enum TokenKind: String, Sendable, Hashable, CaseIterable, Codable {
    case totp
    case hotp
}
