import Synchronization

/// The limiter's in-process half: decides whether an attempt may be evaluated and
/// reserves it in the same step, so that parallel sessions cannot get more guesses
/// evaluated than the policy allows (RFC 4226 §7.3).
///
/// Each counter (per user over all hosts, key "", and per user and remote host) holds
/// the failures last committed to the store, the attempts admitted but not yet
/// decided, and the end of the current wait on the monotonic clock. An attempt is
/// admitted only if the user would still be open with every admitted attempt counted
/// as a failure; so under any concurrency at most `freePer…` attempts run before the
/// first wait, one per wait after it, and at most `lockoutFailures` in all.
///
/// Waits run on the monotonic clock, so a step of the wall clock neither stretches
/// nor ends them. The store keeps `locked_until` in wall-clock seconds for the next
/// run; when a counter is loaded from it, a wait further away than `maxDelay` (the
/// longest the policy ever sets) is cut to `maxDelay`.
///
/// The store is the record: a counter is loaded from it the first time a user is
/// checked, and updated after every commit that changes it. Updates carry the order
/// in which their transactions ran, so a late update cannot undo a newer one.
final class AttemptLimiter: Sendable {
    struct Counter: Sendable {
        var failures = 0
        var inFlight = 0
        /// Monotonic milliseconds at which the current wait ends.
        var waitEnds: Int64?
        /// The write (see `OTPStore.nextWriteSequence`) this counter last reflects.
        var sequence: Int64 = 0
    }

    /// A counter as stored: failures and the wall-clock end of the wait.
    struct Stored: Sendable {
        var failures: Int
        var lockedUntil: Int64?
    }

    let policy: LimiterPolicy
    /// Milliseconds on a clock that never steps (CLOCK_BOOTTIME by default).
    let monotonic: @Sendable () -> Int64
    private let counters = Mutex<[Int64: [String: Counter]]>([:])

    init(policy: LimiterPolicy, monotonic: @escaping @Sendable () -> Int64) {
        self.policy = policy
        self.monotonic = monotonic
    }

    /// "" (all hosts) first, then the host if one was given.
    static func keys(rhost: String?) -> [String] {
        if let rhost, !rhost.isEmpty { return ["", rhost] }
        return [""]
    }

    /// Admits and reserves one attempt, or says why not. `load` gives the stored
    /// counters of the user, for counters not in memory; it runs under the limiter's
    /// lock. It may come from a snapshot read a moment earlier: a counter is absent
    /// only when no attempt of the user is in flight and the last committed change
    /// left it at zero (or it was never loaded), so no commit it could miss adds
    /// a failure; one that clears makes the snapshot err on the strict side.
    func reserve(
        userID: Int64, rhost: String?, now: Int64, load: () throws -> [String: Stored]
    ) throws -> LimitState? {
        let keys = Self.keys(rhost: rhost)
        return try counters.withLock { all in
            var user = try loaded(all[userID], keys: keys, now: now, load: load)
            if let refusal = verdict(user, keys: keys, now: now, hypothetical: true) {
                all[userID] = Self.pruned(user, now: monotonic())
                return refusal
            }
            for key in keys { user[key]!.inFlight += 1 }
            all[userID] = user
            return nil
        }
    }

    /// The state without reserving anything (for `status` and tests).
    func state(userID: Int64, rhost: String?, now: Int64, load: () throws -> [String: Stored]) throws -> LimitState {
        let keys = Self.keys(rhost: rhost)
        return try counters.withLock { all in
            let user = try loaded(all[userID], keys: keys, now: now, load: load)
            all[userID] = Self.pruned(user, now: monotonic())
            return verdict(user, keys: keys, now: now, hypothetical: false) ?? .open
        }
    }

    /// Gives back a reservation once its outcome is committed (or abandoned).
    func release(userID: Int64, rhost: String?) {
        counters.withLock { all in
            guard var user = all[userID] else { return }
            for key in Self.keys(rhost: rhost) { user[key]?.inFlight -= 1 }
            all[userID] = Self.pruned(user, now: monotonic())
        }
    }

    /// A failure committed by write `sequence`: the counter now stands at `failures`
    /// and waits `delay` seconds.
    func recorded(userID: Int64, key: String, failures: Int, delay: Int64, sequence: Int64) {
        let clock = monotonic()
        counters.withLock { all in
            // Not loaded yet: the committed value is the stored one, so start from it.
            var counter = all[userID]?[key] ?? Counter()
            guard counter.sequence < sequence else { return }
            counter.failures = failures
            counter.waitEnds = delay > 0 ? clock + delay * 1000 : nil
            counter.sequence = sequence
            all[userID, default: [:]][key] = counter
        }
    }

    /// Every counter of the user cleared by write `sequence` (a success, an unlock, a reset).
    func cleared(userID: Int64, sequence: Int64) {
        counters.withLock { all in
            guard var user = all[userID] else { return }
            for (key, var counter) in user where counter.sequence < sequence {
                counter.failures = 0
                counter.waitEnds = nil
                counter.sequence = sequence
                user[key] = counter
            }
            all[userID] = Self.pruned(user, now: monotonic())
        }
    }

    /// Users with a counter in memory (for tests: it must not grow without bound).
    var loadedUsers: Int { counters.withLock { $0.count } }

    // MARK: - Inside the lock

    private func loaded(
        _ user: [String: Counter]?, keys: [String], now: Int64, load: () throws -> [String: Stored]
    ) throws -> [String: Counter] {
        var user = user ?? [:]
        guard keys.contains(where: { user[$0] == nil }) else { return user }
        let stored = try load()
        let clock = monotonic()
        for key in keys where user[key] == nil {
            var counter = Counter()
            if let s = stored[key] {
                counter.failures = s.failures
                if let until = s.lockedUntil, until > now {
                    // A stored wait beyond the longest the policy sets means the
                    // wall clock was set back since: wait at most that long.
                    counter.waitEnds = clock + min(until - now, policy.maxDelay) * 1000
                }
            }
            user[key] = counter
        }
        return user
    }

    /// Nil when open. With `hypothetical`, counts every attempt in flight as a failure.
    private func verdict(_ user: [String: Counter], keys: [String], now: Int64, hypothetical: Bool) -> LimitState? {
        let clock = monotonic()
        var until: Int64?
        for key in keys {
            let c = user[key]!
            let free = key == "" ? policy.freePerUser : policy.freePerHost
            if key == "" && c.failures >= policy.lockoutFailures { return .lockedOut }
            if let ends = c.waitEnds, ends > clock {
                let wait = (ends - clock + 999) / 1000
                until = max(until ?? 0, now + max(wait, 1))
            }
            if hypothetical && c.inFlight > 0 {
                let failures = c.failures + c.inFlight
                let delay = policy.delay(failures: failures, free: free)
                if delay > 0 || (key == "" && failures >= policy.lockoutFailures) {
                    until = max(until ?? 0, now + max(delay, 1))
                }
            }
        }
        return until.map { .limited(until: $0) }
    }

    private static func pruned(_ user: [String: Counter], now: Int64) -> [String: Counter]? {
        let kept = user.filter { _, c in c.inFlight > 0 || c.failures > 0 || (c.waitEnds ?? 0) > now }
        return kept.isEmpty ? nil : kept
    }
}
