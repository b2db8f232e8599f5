/// What a successful `verify` accepted.
public enum Factor: String, Sendable, Hashable, CaseIterable, Codable {
    case totp
    case hotp
    case recovery
}
