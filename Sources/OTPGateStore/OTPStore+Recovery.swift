import Foundation
import GRDB
import OTPCore

extension OTPStore {
    static func unusedRecoveryCodes(_ db: Database, userID: Int64) throws -> Int {
        try unusedCodes(db, in: .recovery, userID: userID)
    }

    static func insert(_ batch: RecoveryCodeBatch, userID: Int64, user: String, db: Database, now: Int64) throws {
        guard batch.user == user else {
            throw StoreError(.invalidInput, "these recovery codes were made for another user")
        }
        for hash in batch.hashes {
            var r = RecoveryCodeRecord(
                id: nil, userID: userID, kdf: batch.kdf, salt: Data(batch.salt), hash: Data(hash), createdAt: now,
                usedAt: nil)
            try r.insert(db)
        }
    }

    /// How many unused recovery codes `user` has.
    public func recoveryCodesRemaining(user: String) throws(StoreError) -> Int {
        try read { db in
            guard let uid = try Self.userID(db, user) else { return 0 }
            return try Self.unusedRecoveryCodes(db, userID: uid)
        }
    }

    /// Replaces all recovery codes of `user` (who must have a token) with `batch`.
    public func replaceRecoveryCodes(user: String, batch: RecoveryCodeBatch, now: Int64, audit: AuditEvent? = nil) throws(StoreError) {
        try write { db in
            guard let uid = try Self.userID(db, user),
                try TokenRecord.filter(TokenRecord.Columns.userID == uid).fetchCount(db) > 0
            else { throw StoreError(.notFound, "user \(user) has no tokens, so no recovery codes") }
            try RecoveryCodeRecord.filter(RecoveryCodeRecord.Columns.userID == uid).deleteAll(db)
            try Self.insert(batch, userID: uid, user: user, db: db, now: now)
            try Self.insertAudit(db, audit)
        }
    }

    /// Uses up one recovery code, if `input` is an unused one of `user`.
    ///
    /// A recovery-shaped input costs the same KDF work for every user: one scrypt run
    /// per salt among the user's unused codes, and one (with a fixed salt) for a user
    /// who has none or whom the store does not know, so the time taken does not tell
    /// who has recovery codes. The slow hash runs outside the write transaction; the
    /// code is then marked used with a compare-and-set, so of several parallel uses of
    /// one code exactly one succeeds. A success clears the user's failure counts; a
    /// miss does not count a failure here (the caller decides, since it may have tried
    /// the input as an OTP code first). With a `reservation` the limiter has already
    /// admitted the attempt; without one, a rate-limited user's input is not evaluated.
    public func consumeRecoveryCode(
        user: String, input: String, rhost: String? = nil, now: Int64, audit: AuditEvent? = nil,
        reservation: AttemptReservation? = nil
    ) throws(StoreError) -> RecoveryResult {
        let normalized = try? RecoveryCode.normalize(input)
        defer { normalized?.wipeSharedStorage() }
        return try consumeHashedCode(
            in: .recovery, normalized: normalized, equalise: true, user: user, rhost: rhost,
            now: now, audit: audit, reservation: reservation)
    }
}
