import OTPCore

/// google-authenticator's scratch codes (8 digits each), salted and hashed with the
/// recovery-code hasher before they reach a transaction. The plain codes are not kept.
public struct ScratchCodeBatch: Sendable, CustomStringConvertible {
    public static let digits = 8
    /// google-authenticator writes at most 10; a file with more was edited by hand.
    public static let maxCount = 20

    /// The user the hashes are bound to (as recovery codes are: rows moved to another
    /// user do not match there).
    public let user: String
    package let kdf: String
    package let salt: [UInt8]
    package let hashes: [[UInt8]]
    public var count: Int { hashes.count }

    /// Hashes `codes`, each exactly 8 ASCII digits.
    public static func hash(_ codes: [String], user: String, hasher: RecoveryCodeHasher) throws(StoreError) -> ScratchCodeBatch {
        guard codes.count <= maxCount else {
            throw StoreError(.invalidInput, "at most \(maxCount) scratch codes per user")
        }
        let salt = try RecoveryCodeHasher.newSalt()
        var hashes: [[UInt8]] = []
        for code in codes {
            guard let normalized = try? OneTimeCode.normalize(code, digits: digits), !code.contains(" ") else {
                throw StoreError(.invalidInput, "a scratch code has exactly \(digits) digits")
            }
            hashes.append(try hasher.hash(normalized: normalized, salt: salt, user: user))
        }
        return ScratchCodeBatch(user: user, kdf: hasher.descriptor, salt: salt, hashes: hashes)
    }

    public var description: String { "\(count) scratch codes (withheld)" }
}
