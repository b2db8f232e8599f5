import Foundation
import GRDB
import OTPCore

extension OTPStore {
    /// The tables of one-time codes kept only as salted slow hashes bound to their user:
    /// recovery codes, and scratch codes imported from google-authenticator. Both have
    /// the same columns and are used up the same way.
    enum HashedCodeTable: String {
        case recovery = "recovery_codes"
        case scratch = "scratch_codes"
    }

    /// Uses up one unused code of `user` in `table` whose hash matches `normalized` (nil
    /// when the input is not shaped like such a code: no match, nothing hashed).
    ///
    /// The slow hash runs outside the write transaction, once per (kdf, salt) group and
    /// compared with every row; the code is then marked used with a compare-and-set, so
    /// of several parallel uses of one code exactly one succeeds. A success clears the
    /// user's failure counts; a miss does not count a failure here (the caller decides).
    /// With a `reservation` the limiter has already admitted the attempt; without one, a
    /// rate-limited user's input is not evaluated. `equalise`: a user with no unused
    /// codes (or whom the store does not know) still costs one hash run.
    func consumeHashedCode(
        in table: HashedCodeTable, normalized: [UInt8]?, equalise: Bool, user: String, rhost: String?, now: Int64,
        audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult {
        let (state, rows) = try read { db -> (LimitState, [Row]) in
            guard let uid = try Self.userID(db, user) else { return (.open, []) }
            let state = reservation == nil ? try self.storedLimitState(db, userID: uid, rhost: rhost, now: now) : .open
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, kdf, salt, hash FROM \(table.rawValue) WHERE user_id = ? AND used_at IS NULL",
                arguments: [uid])
            return (state, rows)
        }
        guard state == .open else { return .rateLimited(state) }
        guard let normalized else { return .noMatch }
        let codes = rows.map { row in
            StoredCode(id: row["id"], kdf: row["kdf"], salt: Array(row["salt"] as Data), hash: Array(row["hash"] as Data))
        }
        let match = try recoveryHasher.match(normalized, among: codes, user: user, equalise: equalise, what: "\(table.rawValue) row")
        guard let id = match else { return .noMatch }

        let (result, cleared) = try write { db -> (RecoveryResult, (Int64, Int64)?) in
            guard let uid = try Self.userID(db, user) else { return (.noMatch, nil) }
            if reservation == nil {
                let state = try self.storedLimitState(db, userID: uid, rhost: rhost, now: now)
                guard state == .open else { return (.rateLimited(state), nil) }
            }
            try db.execute(
                sql: "UPDATE \(table.rawValue) SET used_at = ? WHERE id = ? AND user_id = ? AND used_at IS NULL",
                arguments: [now, id, uid])
            guard db.changesCount == 1 else { return (.noMatch, nil) }
            let sequence = try Self.clearFailures(db, userID: uid, store: self)
            try Self.insertAudit(db, audit)
            return (.accepted(remaining: try Self.unusedCodes(db, in: table, userID: uid)), (uid, sequence))
        }
        if let (uid, sequence) = cleared {
            limiter.cleared(userID: uid, sequence: sequence)
            reservation?.release()  // decided; a miss goes on to `recordFailure`
        }
        return result
    }

    static func unusedCodes(_ db: Database, in table: HashedCodeTable, userID: Int64) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM \(table.rawValue) WHERE user_id = ? AND used_at IS NULL"),
            arguments: [userID]) ?? 0
    }
}
