import OTPCore

/// What each sealed value of a store is bound to (its AES-GCM associated data), the
/// same in every backend: a sealed value moved to another row, user or table no
/// longer opens.
extension SecretBinding {
    public static func token(_ id: String, user: String) -> SecretBinding {
        SecretBinding(table: "tokens", row: id, user: user, column: "secret")
    }

    public static func enrollment(_ id: String, user: String) -> SecretBinding {
        SecretBinding(table: "enrollments", row: id, user: user, column: "secret")
    }

    /// The key check: a known value sealed under the store's key, so that a wrong key
    /// is refused at start rather than at the first login.
    public static let keyCheck = SecretBinding(table: "key_check", row: "1", user: "", column: "value")
    public static let keyCheckPlaintext = Array("otpgate key check v1".utf8)
}

/// Identifiers a store draws for its rows (token and enrolment ids).
public enum StoreIdentifier {
    /// A random identifier of `length` lower-case base32 symbols (5 bits each).
    public static func random(length: Int) throws(StoreError) -> String {
        do {
            let bytes = try SecureRandom.bytes((length * 5 + 7) / 8)
            return String(Base32.encode(bytes).lowercased().prefix(length))
        } catch {
            throw StoreError(.crypto, "could not draw an identifier: \(error.message)")
        }
    }
}
