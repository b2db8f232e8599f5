import OTPCore

/// A fresh set of recovery codes: the plain codes, to show the user once, and their
/// salted hashes, to store. Hashing costs one scrypt run per code, so it is done
/// before (and outside) the transaction that stores the batch.
public struct RecoveryCodeBatch: Sendable, CustomStringConvertible {
    public static let standardCount = 10

    public let codes: [String]
    /// The user the hashes are bound to.
    public let user: String
    package let kdf: String
    package let salt: [UInt8]
    package let hashes: [[UInt8]]

    /// New codes for `user`: their hashes are bound to that name and fail for anyone else.
    public static func generate(
        count: Int = standardCount, hasher: RecoveryCodeHasher, user: String
    ) throws(StoreError) -> RecoveryCodeBatch {
        let codes: [String]
        do {
            codes = try RecoveryCode.generate(count: count)
        } catch {
            throw StoreError(.crypto, "could not generate recovery codes: \(error.message)")
        }
        let salt = try RecoveryCodeHasher.newSalt()
        var hashes: [[UInt8]] = []
        for code in codes {
            let normalized = try! RecoveryCode.normalize(code)
            hashes.append(try hasher.hash(normalized: normalized, salt: salt, user: user))
        }
        return RecoveryCodeBatch(codes: codes, user: user, kdf: hasher.descriptor, salt: salt, hashes: hashes)
    }

    public var description: String { "\(codes.count) recovery codes (withheld)" }
}
