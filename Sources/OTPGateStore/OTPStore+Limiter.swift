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
        let rows = try LimiterRecord
            .filter(LimiterRecord.Columns.userID == userID)
            .filter(([""] + (rhost.map { [$0] } ?? [])).contains(LimiterRecord.Columns.rhost))
            .fetchAll(db)
        var until: Int64?
        for row in rows {
            if row.rhost == "" && row.failures >= limiterPolicy.lockoutFailures { return .lockedOut }
            if let u = row.lockedUntil, u > now { until = max(until ?? u, u) }
        }
        return until.map { .limited(until: $0) } ?? .open
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
                var row = try LimiterRecord.fetchOne(db, key: ["user_id": uid, "rhost": host])
                    ?? LimiterRecord(userID: uid, rhost: host, failures: 0, lastFailureAt: now, lockedUntil: nil)
                row.failures += 1
                row.lastFailureAt = now
                let delay = policy.delay(failures: row.failures, free: free)
                row.lockedUntil = delay > 0 ? now + delay : nil
                try row.save(db)
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
            try LimiterRecord.filter(LimiterRecord.Columns.userID == uid).deleteAll(db)
            try Self.insertAudit(db, audit)
            return true
        }
    }
}
