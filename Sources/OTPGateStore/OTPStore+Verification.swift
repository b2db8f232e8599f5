import GRDB
import OTPCore

extension OTPStore {
    /// The tokens, recovery-code count and stored limiter counters of `user`, in one
    /// read transaction: what a verify needs, for the price of one snapshot instead of
    /// three. Whether the attempt may be evaluated is `reserveAttempt`'s to say.
    public func verificationContext(user: String, rhost: String? = nil, now: Int64) throws(StoreError) -> VerificationContext {
        let (uid, rows, remaining, counters) = try read { db -> (Int64?, [TokenRecord], Int, [String: AttemptLimiter.Stored]) in
            let uid = try Self.userID(db, user)
            // The same queries for a user the store does not know (id -1 has no
            // rows), so that the time taken does not tell the two apart.
            return (
                uid, try Self.tokenRecords(db, userID: uid ?? -1), try Self.unusedRecoveryCodes(db, userID: uid ?? -1),
                try Self.storedCounters(db, userID: uid ?? -1, rhost: rhost)
            )
        }
        return VerificationContext(
            tokens: try unseal(rows, user: user), recoveryRemaining: remaining, time: now, userID: uid, limiterSnapshot: counters)
    }

    /// A stand-in token (standard TOTP, a random secret sealed under the key at open)
    /// to evaluate a guess against for a user with no token: what an enrolled user's
    /// guess costs, without any chance to count. Opened afresh each time, as a real
    /// token is.
    public func decoyTokens() throws(StoreError) -> [VerifiableToken] {
        let secret = try decoy.ring.open(decoy.sealed, for: Self.decoyBinding)
        let info = TokenInfo(
            id: "decoy", user: "", name: "decoy", parameters: .standard, watermark: nil, drift: 0, createdAt: 0,
            lastUsedAt: nil)
        return [VerifiableToken(info: info, secret: secret, initialCounter: 0)]
    }

    static let decoyBinding = SecretBinding(table: "decoy", row: "1", user: "", column: "secret")

    /// Commits `audit` for a guess at a user with no token, with the same statements
    /// and page writes as `recordFailure` makes for an enrolled user (on a table of
    /// its own, `timing_decoy`, which nothing reads), so the two cost the same.
    /// `reservation` (from `reserveAttempt`, for the same limiter work) is released.
    public func recordNotEnrolled(
        user: String, rhost: String? = nil, now: Int64, audit: AuditEvent, reservation: AttemptReservation? = nil
    ) throws(StoreError) {
        let host = rhost.flatMap { $0.isEmpty ? nil : $0 }
        let sequence = try write { db -> Int64 in
            _ = try Self.userID(db, user)
            for key in host == nil ? [0] : [0, 1] {
                let failures = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT failures FROM timing_decoy WHERE k = ?"), arguments: [key]) ?? 0
                try db.cachedStatement(
                    sql: """
                        INSERT INTO timing_decoy (k, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?)
                        ON CONFLICT (k) DO UPDATE SET
                          failures = excluded.failures, last_failure_at = excluded.last_failure_at,
                          locked_until = excluded.locked_until
                        """
                ).execute(arguments: [key, (failures + 1) % 1000, now, nil as Int64?])
            }
            try Self.insertAudit(db, audit)
            return self.nextWriteSequence()
        }
        if reservation?.userID == Self.unknownUserID {
            // What `recordFailure` does after its commit, on the stand-in counter.
            for key in AttemptLimiter.keys(rhost: host) {
                limiter.recorded(userID: Self.unknownUserID, key: key, failures: 0, delay: 0, sequence: sequence)
            }
        }
        reservation?.release()
    }
}
