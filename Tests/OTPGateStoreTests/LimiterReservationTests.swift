import Dispatch
import Foundation
import GRDB
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Synchronization
import Testing

/// Issue 13, item 2: the limiter decides and counts in one step. Parallel sessions
/// each reserve their attempt before the code is evaluated, so no more attempts are
/// evaluated than the policy allows, and the lockout cap is exact. Each test also
/// runs the old shape (read the state, evaluate, then count) on the same store and
/// shows that it over-admits, so a pass means something.
@Suite("Limiter reservations", .ownThreads)
struct LimiterReservationTests {
    let now: Int64 = 1_700_000_000

    /// Runs `count` threads; each calls `work` with a gate it must pass after deciding
    /// and before recording, so every decision is taken before any outcome is known
    /// (the widest window check-then-act can have).
    static func race(_ count: Int, _ work: @escaping @Sendable (_ gate: () -> Void) -> Bool) -> Int {
        let admitted = Atomic<Int>(0)
        let ready = DispatchGroup()
        let done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for _ in 0..<count {
            ready.enter()
            done.enter()
            Thread {
                var passed = false
                let ok = work {
                    passed = true
                    ready.leave()
                    go.wait()
                }
                if !passed { ready.leave() }
                if ok { admitted.add(1, ordering: .relaxed) }
                done.leave()
            }.start()
        }
        ready.wait()
        for _ in 0..<count { go.signal() }
        done.wait()
        return admitted.load(ordering: .relaxed)
    }

    /// The new shape: reserve, (evaluate), record the failure.
    static func reserved(_ store: OTPStore, user: String, rhost: String?, now: Int64, count: Int) -> Int {
        race(count) { gate in
            guard case .admitted(let r) = try? store.reserveAttempt(user: user, rhost: rhost, now: now) else { return false }
            gate()
            _ = try? store.recordFailure(user: user, rhost: rhost, now: now, reservation: r)
            return true
        }
    }

    /// The shape of main before the fix: read the state, (evaluate), record.
    static func checkThenAct(_ store: OTPStore, user: String, rhost: String?, now: Int64, count: Int) -> Int {
        race(count) { gate in
            guard (try? store.limitState(user: user, rhost: rhost, now: now)) == .open else { return false }
            gate()
            _ = try? store.recordFailure(user: user, rhost: rhost, now: now)
            return true
        }
    }

    static func failures(_ store: OTPStore, _ user: String) throws -> Int {
        try store.listUsers(now: 0).first { $0.user == user }?.failures ?? 0
    }

    @Test func sixtyParallelGuessesFromOneHostGetThree() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 3, freePerUser: 1000, lockoutFailures: 100))
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        _ = try f.enroll("bob")
        let admitted = Self.reserved(f.store, user: "alice", rhost: "203.0.113.9", now: now, count: 60)
        #expect(admitted == 3)
        #expect(try Self.failures(f.store, "alice") == 3)
        // Control: the old shape lets the whole burst through.
        let control = Self.checkThenAct(f.store, user: "bob", rhost: "203.0.113.9", now: now, count: 60)
        #expect(control > 3, "check-then-act admitted only \(control): the race did not happen")
        print("limiter: 60 parallel guesses, free_per_host 3: reserved \(admitted), check-then-act \(control)")
    }

    @Test func theLockoutCapIsExact() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1000, freePerUser: 1000, lockoutFailures: 100))
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        _ = try f.enroll("bob")
        for _ in 0..<95 {
            _ = try f.store.recordFailure(user: "alice", now: now)
            _ = try f.store.recordFailure(user: "bob", now: now)
        }
        var admitted = 0
        for _ in 0..<3 { admitted += Self.reserved(f.store, user: "alice", rhost: nil, now: now, count: 50) }
        #expect(admitted == 5)
        #expect(try Self.failures(f.store, "alice") == 100)
        #expect(try f.store.limitState(user: "alice", now: now) == .lockedOut)
        let control = Self.checkThenAct(f.store, user: "bob", rhost: nil, now: now, count: 50)
        let bobFailures = try Self.failures(f.store, "bob")
        #expect(bobFailures > 100, "check-then-act stopped at \(bobFailures)")
        print("limiter: cap 100 from 95, 3 x 50 parallel: reserved \(admitted) (ends at 100), check-then-act \(control) in one burst")
    }

    @Test func oneAttemptPerWait() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1000, freePerUser: 2, baseDelay: 2, maxDelay: 60))
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        #expect(Self.reserved(f.store, user: "alice", rhost: nil, now: now, count: 20) == 2)
        #expect(Self.reserved(f.store, user: "alice", rhost: nil, now: now, count: 20) == 0)
        f.clock.advance(seconds: 2)
        #expect(Self.reserved(f.store, user: "alice", rhost: nil, now: now + 2, count: 20) == 1)
        #expect(try Self.failures(f.store, "alice") == 3)
    }

    @Test func aSuccessReleasesAndClears() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1000, freePerUser: 1))
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        guard case .admitted(let r) = try f.store.reserveAttempt(user: "alice", now: now) else { Issue.record("refused"); return }
        // While it is in flight, a second attempt would exceed the one free failure.
        guard case .refused = try f.store.reserveAttempt(user: "alice", now: now) else { Issue.record("admitted twice"); return }
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 101, drift: 0, now: now, reservation: r) == .accepted)
        guard case .admitted = try f.store.reserveAttempt(user: "alice", now: now) else { Issue.record("still refused"); return }
        #expect(f.store.limiter.loadedUsers == 0, "an idle user with no failures is not kept in memory")
    }

    @Test func aDroppedReservationIsGivenBack() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1000, freePerUser: 1))
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        do {
            guard case .admitted = try f.store.reserveAttempt(user: "alice", now: now) else { Issue.record("refused"); return }
        }
        guard case .admitted = try f.store.reserveAttempt(user: "alice", now: now) else { Issue.record("leaked"); return }
    }
}

/// Issue 13, item 12: waits run on the monotonic clock. The wall-clock times are the
/// issue's: a step back of one day must not turn a 2 s wait into 86,402 s, and a step
/// forward must not end it.
@Suite("Limiter waits and the wall clock", .ownThreads)
struct LimiterClockTests {
    let now: Int64 = 1_700_000_000

    @Test func wallClockStepsNeitherStretchNorEndAWait() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1000, freePerUser: 1, baseDelay: 2))
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        #expect(try f.store.recordFailure(user: "alice", now: now).state == .limited(until: now + 2))
        let back = now - 86_400
        #expect(try f.store.limitState(user: "alice", now: back) == .limited(until: back + 2))
        let forward = now + 86_400
        #expect(try f.store.limitState(user: "alice", now: forward) == .limited(until: forward + 2))
        guard case .refused = try f.store.reserveAttempt(user: "alice", now: forward) else {
            Issue.record("a forward step ended the wait")
            return
        }
        f.clock.advance(seconds: 2)
        #expect(try f.store.limitState(user: "alice", now: back) == .open)
    }

    /// A wait stored by an earlier run, when the clock has since been set back, lies
    /// far in the future: it is cut to the longest wait the policy sets.
    @Test func aStoredWaitFarInTheFutureIsBounded() throws {
        let policy = LimiterPolicy(freePerHost: 1000, freePerUser: 1, baseDelay: 2, maxDelay: 900)
        let f = try StoreFixture(policy: policy)
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        _ = try f.store.recordFailure(user: "alice", now: now)
        try f.store.pool.write { db in try db.execute(sql: "UPDATE limiter SET locked_until = ?", arguments: [now + 86_402]) }
        let clock = TestClock()
        let reopened = try OTPStore(
            path: f.dbPath, key: f.key, keySource: f.keyPath, logger: CapturingLogHandler.logger(), limiterPolicy: policy,
            monotonic: clock.read, now: now)
        #expect(try reopened.limitState(user: "alice", now: now) == .limited(until: now + 900))
        clock.advance(seconds: 900)
        #expect(try reopened.limitState(user: "alice", now: now) == .open)
    }
}
