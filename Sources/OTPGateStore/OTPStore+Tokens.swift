import Foundation
import GRDB
import OTPCore

extension OTPStore {
    static func info(_ r: TokenRecord, user: String) throws -> TokenInfo {
        guard let kind = OTPKind(rawValue: r.kind), let algorithm = OTPAlgorithm(rawValue: r.algorithm),
            let parameters = try? OTPParameters(kind: kind, algorithm: algorithm, digits: r.digits, period: r.period)
        else { throw StoreError(.database, "token \(r.id) has parameters this version does not know") }
        return TokenInfo(
            id: r.id, user: user, name: r.name, parameters: parameters,
            watermark: r.watermark.map { UInt64($0) }, drift: r.drift, createdAt: r.createdAt,
            lastUsedAt: r.lastUsedAt, skew: r.skew, window: r.window)
    }

    /// The tokens of `user`, oldest first, without secrets.
    public func tokens(user: String) throws(StoreError) -> [TokenInfo] {
        try read { db in
            guard let uid = try Self.userID(db, user) else { return [] }
            return try Self.tokenRecords(db, userID: uid).map { try Self.info($0, user: user) }
        }
    }

    /// The tokens of `user` with their secrets decrypted, to check a code against.
    public func verifiableTokens(user: String) throws(StoreError) -> [VerifiableToken] {
        let rows = try read { db -> [TokenRecord] in
            guard let uid = try Self.userID(db, user) else { return [] }
            return try Self.tokenRecords(db, userID: uid)
        }
        return try unseal(rows, user: user)
    }

    /// The token rows of a user, oldest first.
    static func tokenRecords(_ db: Database, userID: Int64) throws -> [TokenRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT \(TokenRecord.selection) FROM tokens WHERE user_id = ? ORDER BY created_at, rowid"),
            arguments: [userID]
        ).map(TokenRecord.init(selected:))
    }

    func unseal(_ rows: [TokenRecord], user: String) throws(StoreError) -> [VerifiableToken] {
        let ring = currentKeyring()
        var out: [VerifiableToken] = []
        for r in rows {
            let secret = try ring.open(Array(r.secret), for: SecretBinding.token(r.id, user: user))
            let info: TokenInfo
            do { info = try Self.info(r, user: user) } catch { throw Self.storeError(error, path: path) }
            out.append(VerifiableToken(info: info, secret: secret, initialCounter: UInt64(r.initialCounter)))
        }
        return out
    }

    /// Accepts a code that matched `counter` on token `tokenID`, in one transaction:
    /// moves the watermark forward only (a compare-and-set, so of many parallel
    /// callers with the same code exactly one wins); records last use and drift;
    /// clears the user's failure counts. With a `reservation` the limiter has already
    /// admitted the attempt; without one, a rate-limited user is refused here.
    public func acceptCode(
        user: String, tokenID: String, counter: UInt64, drift: Int, rhost: String? = nil, now: Int64,
        audit: AuditEvent? = nil, reservation: AttemptReservation? = nil
    ) throws(StoreError) -> AcceptResult {
        guard counter <= UInt64(Int64.max) else {
            throw StoreError(.invalidInput, "counter \(counter) is beyond what the store keeps")
        }
        let (result, cleared) = try write { db -> (AcceptResult, (Int64, Int64)?) in
            guard let uid = try Self.userID(db, user) else {
                throw StoreError(.notFound, "user \(user) has no tokens")
            }
            if reservation == nil {
                let state = try self.storedLimitState(db, userID: uid, rhost: rhost, now: now)
                guard state == .open else { return (.rateLimited(state), nil) }
            }
            try db.cachedStatement(
                sql: """
                    UPDATE tokens SET watermark = ?, drift = ?, last_used_at = ?
                    WHERE id = ? AND user_id = ? AND (watermark IS NULL OR watermark < ?)
                    """
            ).execute(arguments: [Int64(counter), drift, now, tokenID, uid, Int64(counter)])
            guard db.changesCount == 1 else {
                guard try TokenRecord.exists(db, key: tokenID) else {
                    throw StoreError(.notFound, "token \(tokenID) of \(user) does not exist")
                }
                return (.replayed, nil)
            }
            let sequence = try Self.clearFailures(db, userID: uid, store: self)
            try Self.insertAudit(db, audit)
            return (.accepted, (uid, sequence))
        }
        if let (uid, sequence) = cleared {
            limiter.cleared(userID: uid, sequence: sequence)
            reservation?.release()  // decided; a replay goes on to `recordFailure`
        }
        return result
    }

    /// Removes one token; removing the last one also removes the recovery codes.
    /// Returns how many tokens the user has left.
    public func removeToken(user: String, tokenID: String, audit: AuditEvent? = nil) throws(StoreError) -> Int {
        try write { db in
            guard let uid = try Self.userID(db, user),
                try TokenRecord.filter(TokenRecord.Columns.id == tokenID && TokenRecord.Columns.userID == uid)
                    .deleteAll(db) == 1
            else { throw StoreError(.notFound, "user \(user) has no token \(tokenID)") }
            let left = try TokenRecord.filter(TokenRecord.Columns.userID == uid).fetchCount(db)
            if left == 0 {
                try RecoveryCodeRecord.filter(RecoveryCodeRecord.Columns.userID == uid).deleteAll(db)
                try Self.deleteScratchCodes(db, userID: uid)
            }
            try Self.insertAudit(db, audit)
            return left
        }
    }

    /// Removes every token, recovery code, pending enrolment and limiter row of
    /// `user`. Returns false when there was no such user. The audit log is kept.
    @discardableResult
    public func resetUser(_ user: String, audit: AuditEvent? = nil) throws(StoreError) -> Bool {
        let cleared = try write { db -> (Int64, Int64)? in
            guard let uid = try Self.userID(db, user) else { return nil }
            // ON DELETE CASCADE removes the rest.
            try UserRecord.filter(UserRecord.Columns.id == uid).deleteAll(db)
            try Self.insertAudit(db, audit)
            return (uid, self.nextWriteSequence())
        }
        guard let (uid, sequence) = cleared else { return false }
        limiter.cleared(userID: uid, sequence: sequence)
        return true
    }

    /// One summary per user who has a token, a pending enrolment or limiter state.
    public func listUsers(now: Int64) throws(StoreError) -> [UserSummary] {
        let lockout = limiterPolicy.lockoutFailures
        return try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT u.name,
                      (SELECT count(*) FROM tokens t WHERE t.user_id = u.id) AS tokens,
                      (SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL) AS recovery,
                      (SELECT max(locked_until) FROM limiter l WHERE l.user_id = u.id AND l.locked_until > ?) AS locked_until,
                      (SELECT failures FROM limiter l WHERE l.user_id = u.id AND l.rhost = '') AS failures,
                      (SELECT max(last_used_at) FROM tokens t WHERE t.user_id = u.id) AS last_used
                    FROM users u ORDER BY u.name
                    """, arguments: [now])
            return rows.map { row in
                let failures: Int = row["failures"] ?? 0
                return UserSummary(
                    user: row["name"], tokens: row["tokens"], recoveryRemaining: row["recovery"],
                    lockedUntil: row["locked_until"], lockedOut: failures >= lockout, failures: failures,
                    lastUsedAt: row["last_used"])
            }
        }
    }
}
