import Foundation
import GRDB
import OTPCore

extension OTPStore {
    static func unusedRecoveryCodes(_ db: Database, userID: Int64) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL"),
            arguments: [userID]) ?? 0
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
        let (state, rows) = try read { db -> (LimitState, [RecoveryCodeRecord]) in
            guard let uid = try Self.userID(db, user) else { return (.open, []) }
            let state = reservation == nil ? try self.storedLimitState(db, userID: uid, rhost: rhost, now: now) : .open
            let rows = try RecoveryCodeRecord
                .filter(RecoveryCodeRecord.Columns.userID == uid && RecoveryCodeRecord.Columns.usedAt == nil)
                .fetchAll(db)
            return (state, rows)
        }
        guard state == .open else { return .rateLimited(state) }
        guard let normalized = try? RecoveryCode.normalize(input) else { return .noMatch }
        guard !rows.isEmpty else {
            _ = try recoveryHasher.hash(normalized: normalized, salt: RecoveryCodeHasher.equalisingSalt, user: user)
            return .noMatch
        }

        // One hash per (kdf, salt) group: normally one per user.
        var hashes: [String: [UInt8]] = [:]
        var match: Int64?
        for row in rows {
            let key = row.kdf + "/" + row.salt.base64EncodedString()
            if hashes[key] == nil {
                guard let hasher = RecoveryCodeHasher(descriptor: row.kdf) else {
                    throw StoreError(.database, "recovery code \(row.id ?? 0) of \(user) names an unknown kdf")
                }
                hashes[key] = try hasher.hash(normalized: normalized, salt: Array(row.salt), user: user)
            }
            // Compare with every row, without stopping at the first match.
            if ConstantTime.equal(hashes[key]!, Array(row.hash)) { match = row.id }
        }
        guard let id = match else { return .noMatch }

        let (result, cleared) = try write { db -> (RecoveryResult, (Int64, Int64)?) in
            guard let uid = try Self.userID(db, user) else { return (.noMatch, nil) }
            if reservation == nil {
                let state = try self.storedLimitState(db, userID: uid, rhost: rhost, now: now)
                guard state == .open else { return (.rateLimited(state), nil) }
            }
            try db.execute(
                sql: "UPDATE recovery_codes SET used_at = ? WHERE id = ? AND user_id = ? AND used_at IS NULL",
                arguments: [now, id, uid])
            guard db.changesCount == 1 else { return (.noMatch, nil) }
            let sequence = try Self.clearFailures(db, userID: uid, store: self)
            try Self.insertAudit(db, audit)
            return (.accepted(remaining: try Self.unusedRecoveryCodes(db, userID: uid)), (uid, sequence))
        }
        if let (uid, sequence) = cleared {
            limiter.cleared(userID: uid, sequence: sequence)
            reservation?.release()  // decided; a miss goes on to `recordFailure`
        }
        return result
    }
}
