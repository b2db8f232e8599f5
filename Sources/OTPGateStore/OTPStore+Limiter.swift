import GRDB

extension OTPStore {
    /// Whether `user` (from `rhost`, if given) may try a code at `now`.
    public func limitState(user: String, rhost: String? = nil, now: Int64) throws(StoreError) -> LimitState {
        try read { db in
            guard let uid = try Self.userID(db, user) else { return .open }
            return try self.limitState(db, userID: uid, rhost: rhost, now: now)
        }
    }

    func limitState(_ db: Database, userID: Int64, rhost: String?, now: Int64) throws -> LimitState {
        // rhost '' is the row counting all hosts; with no rhost given, only that one.
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT rhost, failures, locked_until FROM limiter WHERE user_id = ? AND rhost IN ('', ?)"),
            arguments: [userID, rhost ?? ""])
        var until: Int64?
        while let row = try rows.next() {
            let host: String = row[0]
            let failures: Int = row[1]
            if host == "" && failures >= limiterPolicy.lockoutFailures { return .lockedOut }
            if let u: Int64 = row[2], u > now { until = max(until ?? u, u) }
        }
        return until.map { .limited(until: $0) } ?? .open
    }

    static func clearFailures(_ db: Database, userID: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM limiter WHERE user_id = ?").execute(arguments: [userID])
    }

    /// Counts one failed attempt of `user` from `rhost` and applies the backoff, in
    /// one transaction with `audit` (and an extra lockout event when this failure
    /// locks the user out). An unknown user is created, so unknown and enrolled users
    /// are limited alike.
    public func recordFailure(
        user: String, rhost: String? = nil, now: Int64, audit: AuditEvent? = nil
    ) throws(StoreError) -> FailureResult {
        try Self.validateUser(user)
        let policy = limiterPolicy
        return try write { db in
            let uid = try Self.ensureUser(db, user, now: now)
            func bump(_ host: String, free: Int) throws -> LimiterRecord {
                let failures = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT failures FROM limiter WHERE user_id = ? AND rhost = ?"),
                    arguments: [uid, host]) ?? 0
                var row = LimiterRecord(userID: uid, rhost: host, failures: failures + 1, lastFailureAt: now, lockedUntil: nil)
                let delay = policy.delay(failures: row.failures, free: free)
                row.lockedUntil = delay > 0 ? now + delay : nil
                try db.cachedStatement(
                    sql: """
                        INSERT INTO limiter (user_id, rhost, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (user_id, rhost) DO UPDATE SET
                          failures = excluded.failures, last_failure_at = excluded.last_failure_at,
                          locked_until = excluded.locked_until
                        """
                ).execute(arguments: [uid, host, row.failures, now, row.lockedUntil])
                return row
            }
            let total = try bump("", free: policy.freePerUser)
            if let rhost, !rhost.isEmpty { _ = try bump(rhost, free: policy.freePerHost) }
            let state = try self.limitState(db, userID: uid, rhost: rhost, now: now)
            let lockedOutNow = total.failures == policy.lockoutFailures
            try Self.insertAudit(db, audit)
            if lockedOutNow, var lockout = audit {
                lockout.event = "user.locked_out"
                lockout.detail = "\(total.failures) consecutive failures"
                try Self.insertAudit(db, lockout)
            }
            return FailureResult(failures: total.failures, state: state, lockedOutNow: lockedOutNow)
        }
    }

    /// Clears every failure count and lock of `user`. Returns false for an unknown user.
    @discardableResult
    public func unlock(user: String, audit: AuditEvent? = nil) throws(StoreError) -> Bool {
        try write { db in
            guard let uid = try Self.userID(db, user) else { return false }
            try Self.clearFailures(db, userID: uid)
            try Self.insertAudit(db, audit)
            return true
        }
    }
}
