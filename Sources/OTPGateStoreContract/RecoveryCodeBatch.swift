public import OTPCore

/// A fresh set of recovery codes: the plain codes, to show the user once, and their
/// salted hashes, to store. Hashing costs one scrypt run per code, so it is done
/// before (and outside) the transaction that stores the batch.
public struct RecoveryCodeBatch: Sendable, CustomStringConvertible {
    public static let standardCount = 10

    /// The plain codes as shown (`XXXXX-XXXXX-XXXXX`), in memory that is wiped when
    /// the batch is released: the daemon writes them into its reply from here.
    public let secretCodes: [SecretBytes]
    /// The user the hashes are bound to.
    public let user: String
    package let kdf: String
    package let salt: [UInt8]
    package let hashes: [[UInt8]]

    /// The codes as Strings, copies that are never wiped: for tests and tools, not
    /// for the daemon's replies.
    public var codes: [String] {
        secretCodes.map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
    }

    /// New codes for `user`: their hashes are bound to that name and fail for anyone
    /// else. Each code's canonical form (what is hashed) is wiped after hashing.
    public static func generate(
        count: Int = standardCount, hasher: RecoveryCodeHasher, user: String
    ) throws(StoreError) -> RecoveryCodeBatch {
        let codes: [SecretBytes]
        do {
            codes = try RecoveryCode.generateSecrets(count: count)
        } catch {
            throw StoreError(.crypto, "could not generate recovery codes: \(error.message)")
        }
        let salt = try RecoveryCodeHasher.newSalt()
        var hashes: [[UInt8]] = []
        for code in codes {
            let normalized = try! RecoveryCode.normalize(code)
            defer { normalized.wipeSharedStorage() }
            hashes.append(try hasher.hash(normalized: normalized, salt: salt, user: user))
        }
        return RecoveryCodeBatch(secretCodes: codes, user: user, kdf: hasher.descriptor, salt: salt, hashes: hashes)
    }

    public var description: String { "\(secretCodes.count) recovery codes (withheld)" }
}
