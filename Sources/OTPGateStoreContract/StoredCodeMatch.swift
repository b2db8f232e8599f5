import OTPCore

/// One unused recovery or scratch code as a store keeps it: a salted slow hash bound to
/// its user.
public struct StoredCode: Sendable {
    public let id: Int64
    public let kdf: String
    public let salt: [UInt8]
    public let hash: [UInt8]

    public init(id: Int64, kdf: String, salt: [UInt8], hash: [UInt8]) {
        self.id = id
        self.kdf = kdf
        self.salt = salt
        self.hash = hash
    }
}

extension RecoveryCodeHasher {
    /// Which of `codes` (a user's unused ones) `normalized` is, for both backends: the
    /// slow hash runs once per (kdf, salt) group, and every code is compared, in
    /// constant time and without stopping at a match. With no codes, `equalise` still
    /// costs one hash run (with this hasher), so that a user without codes takes as
    /// long as one with them. The caller then uses the match with a compare-and-set.
    public func match(
        _ normalized: [UInt8], among codes: [StoredCode], user: String, equalise: Bool, what: String
    ) throws(StoreError) -> Int64? {
        guard !codes.isEmpty else {
            if equalise { _ = try hash(normalized: normalized, salt: Self.equalisingSalt, user: user) }
            return nil
        }
        var hashes: [String: [UInt8]] = [:]
        var match: Int64?
        for code in codes {
            let key = code.kdf + "/" + code.salt.map { String($0) }.joined(separator: ".")
            if hashes[key] == nil {
                guard let hasher = RecoveryCodeHasher(descriptor: code.kdf) else {
                    throw StoreError(.database, "\(what) \(code.id) of \(user) names an unknown kdf")
                }
                hashes[key] = try hasher.hash(normalized: normalized, salt: code.salt, user: user)
            }
            if ConstantTime.equal(hashes[key]!, code.hash) { match = code.id }
        }
        for key in hashes.keys { hashes[key]?.wipeSharedStorage() }
        return match
    }
}
