import GRDB

extension OTPStore {
    /// Decides whether `user` (from `rhost`, if given) may have one code evaluated now
    /// and, if so, reserves that attempt in the same step (see `AttemptLimiter`).
    /// Pass the reservation to `acceptCode`, `consumeRecoveryCode` or `recordFailure`,
    /// which record the outcome; release it after that (or let it go out of scope).
    /// A user the store does not know is admitted; the limiter does the same work for
    /// it as for a known user, on a counter of its own (id -1) that nothing reads, so
    /// that the time taken does not tell the two apart.
    /// `context`, read just before for the same user, saves looking the user up again.
    public func reserveAttempt(
        user: String, rhost: String? = nil, now: Int64, context: VerificationContext? = nil
    ) throws(StoreError) -> Admission {
        try Self.validateUser(user)
        let found: Int64?
        if let context { found = context.userID } else { found = try read { db in try Self.userID(db, user) } }
        let known = found != nil
        let uid = found ?? Self.unknownUserID
        let refusal: LimitState?
        do {
            refusal = try limiter.reserve(userID: uid, rhost: rhost, now: now) {
                if let context, context.userID ?? Self.unknownUserID == uid, let stored = context.limiterSnapshot as? [String: AttemptLimiter.Stored] {
                    return stored
                }
                return try self.storedCounters(userID: uid, rhost: rhost)
            }
        } catch {
            throw Self.storeError(error, path: path)
        }
        if let refusal {
            // Nothing was reserved; an unknown user is admitted all the same.
            return known ? .refused(refusal) : .admitted(AttemptReservation(user: user, userID: nil, rhost: rhost, onRelease: nil))
        }
        return .admitted(AttemptReservation(user: user, userID: uid, rhost: rhost) { [limiter] in limiter.release(userID: uid, rhost: rhost) })
    }

    /// The limiter counter that stands in for users the store does not know.
    static let unknownUserID: Int64 = -1

    /// Whether `user` (from `rhost`, if given) may try a code at `now`. Reserves nothing.
    public func limitState(user: String, rhost: String? = nil, now: Int64) throws(StoreError) -> LimitState {
        guard let uid = try read({ db in try Self.userID(db, user) }) else { return .open }
        do {
            return try limiter.state(userID: uid, rhost: rhost, now: now) { try self.storedCounters(userID: uid, rhost: rhost) }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    private func storedCounters(userID: Int64, rhost: String?) throws -> [String: AttemptLimiter.Stored] {
        try pool.read { db in try Self.storedCounters(db, userID: userID, rhost: rhost) }
    }

    static func storedCounters(_ db: Database, userID: Int64, rhost: String?) throws -> [String: AttemptLimiter.Stored] {
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT rhost, failures, locked_until FROM limiter WHERE user_id = ? AND rhost IN ('', ?)"),
            arguments: [userID, rhost ?? ""])
        var out: [String: AttemptLimiter.Stored] = [:]
        while let row = try rows.next() { out[row[0]] = AttemptLimiter.Stored(failures: row[1], lockedUntil: row[2]) }
        return out
    }

    /// The state as stored, in wall-clock time: for writes made without a
    /// reservation (tools and tests), which check inside their own transaction.
    func storedLimitState(_ db: Database, userID: Int64, rhost: String?, now: Int64) throws -> LimitState {
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

    /// Deletes the user's limiter rows; returns the write's sequence number, for
    /// `AttemptLimiter.cleared` once the transaction has committed.
    static func clearFailures(_ db: Database, userID: Int64, store: OTPStore) throws -> Int64 {
        try db.cachedStatement(sql: "DELETE FROM limiter WHERE user_id = ?").execute(arguments: [userID])
        return store.nextWriteSequence()
    }

    /// Counts one failed attempt of `user` from `rhost` and applies the backoff, in
    /// one transaction with `audit` (and an extra lockout event when this failure
    /// locks the user out). An unknown user is created, so unknown and enrolled users
    /// are limited alike. `reservation` is the attempt this failure ends, if any.
    public func recordFailure(
        user: String, rhost: String? = nil, now: Int64, audit: AuditEvent? = nil, reservation: AttemptReservation? = nil
    ) throws(StoreError) -> FailureResult {
        try Self.validateUser(user)
        let policy = limiterPolicy
        let host = rhost.flatMap { $0.isEmpty ? nil : $0 }
        let (uid, rows, sequence) = try write { db -> (Int64, [LimiterRecord], Int64) in
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
            var rows = [try bump("", free: policy.freePerUser)]
            if let host { rows.append(try bump(host, free: policy.freePerHost)) }
            let lockedOutNow = rows[0].failures == policy.lockoutFailures
            try Self.insertAudit(db, audit)
            if lockedOutNow, var lockout = audit {
                lockout.event = "user.locked_out"
                lockout.detail = "\(rows[0].failures) consecutive failures"
                try Self.insertAudit(db, lockout)
            }
            return (uid, rows, self.nextWriteSequence())
        }
        var until: Int64?
        for row in rows {
            let delay = row.lockedUntil.map { $0 - now } ?? 0
            limiter.recorded(userID: uid, key: row.rhost, failures: row.failures, delay: delay, sequence: sequence)
            if delay > 0 { until = max(until ?? 0, now + delay) }
        }
        reservation?.release()
        let total = rows[0].failures
        let state: LimitState =
            total >= policy.lockoutFailures ? .lockedOut : until.map { .limited(until: $0) } ?? .open
        return FailureResult(failures: total, state: state, lockedOutNow: total == policy.lockoutFailures)
    }

    /// Clears every failure count and lock of `user`. Returns false for an unknown user.
    @discardableResult
    public func unlock(user: String, audit: AuditEvent? = nil) throws(StoreError) -> Bool {
        let cleared = try write { db -> (Int64, Int64)? in
            guard let uid = try Self.userID(db, user) else { return nil }
            let sequence = try Self.clearFailures(db, userID: uid, store: self)
            try Self.insertAudit(db, audit)
            return (uid, sequence)
        }
        guard let (uid, sequence) = cleared else { return false }
        limiter.cleared(userID: uid, sequence: sequence)
        return true
    }
}
