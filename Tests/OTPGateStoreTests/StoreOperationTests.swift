import Foundation
import GRDB
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Testing

@Suite("Store operations", .ownThreads)
struct StoreOperationTests {
    let now: Int64 = 1_700_000_000

    @Test func enrolmentBeginConfirm() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let secret = try OTPSecret.generate()
        let params = try OTPParameters(algorithm: .sha256, digits: 8, period: 60)
        let p = try f.store.beginEnrollment(user: "alice", name: "phone", parameters: params, secret: secret, now: now, ttl: 300)
        #expect(p.expiresAt == now + 300)
        #expect(!p.description.contains(Base32.encode(secret)))
        // Nothing is a token until confirmed.
        #expect(try f.store.tokens(user: "alice").isEmpty)
        let fetched = try f.store.pendingEnrollment(id: p.id, user: "alice", now: now + 10)
        #expect(fetched.secret == secret)
        #expect(fetched.parameters == params)

        let batch = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        let (token, stored) = try f.store.confirmEnrollment(id: p.id, user: "alice", counter: 12345, drift: -1, recoveryCodes: batch, now: now + 20)
        #expect(stored)
        #expect(token.watermark == 12345)  // the confirming code cannot log in again
        #expect(token.drift == -1)
        #expect(token.parameters == params)
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 10)
        let verifiable = try f.store.verifiableTokens(user: "alice")
        #expect(verifiable.map(\.secret) == [secret])
        // The enrolment is gone once confirmed.
        #expect(throws: StoreError.self) { try f.store.pendingEnrollment(id: p.id, user: "alice", now: now + 20) }

        // A second token does not replace the recovery codes.
        let p2 = try f.store.beginEnrollment(user: "alice", name: "laptop", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 300)
        let (_, stored2) = try f.store.confirmEnrollment(id: p2.id, user: "alice", counter: 1, drift: 0, recoveryCodes: try RecoveryCodeBatch.generate(hasher: .fast, user: "alice"), now: now + 30)
        #expect(!stored2)
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["phone", "laptop"])
    }

    @Test func enrolmentOfAnotherUserIsNotFound() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let p = try f.store.beginEnrollment(user: "alice", name: "phone", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 300)
        do {
            _ = try f.store.confirmEnrollment(id: p.id, user: "mallory", counter: 1, drift: 0, recoveryCodes: nil, now: now)
            Issue.record("confirmed someone else's enrolment")
        } catch { #expect(error.code == .notFound) }
        #expect(try f.store.cancelEnrollment(id: p.id, user: "mallory") == false)
        #expect(try f.store.cancelEnrollment(id: p.id, user: "alice") == true)
        #expect(try f.store.cancelEnrollment(id: p.id, user: "alice") == false)
    }

    @Test func enrolmentsExpireAndArePurged() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let p = try f.store.beginEnrollment(user: "alice", name: "phone", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 60)
        do {
            _ = try f.store.confirmEnrollment(id: p.id, user: "alice", counter: 1, drift: 0, recoveryCodes: nil, now: now + 60)
            Issue.record("confirmed an expired enrolment")
        } catch { #expect(error.code == .expired) }
        #expect(try f.store.tokens(user: "alice").isEmpty)
        // Kept for a grace period so a late confirmation hears "expired".
        do {
            _ = try f.store.confirmEnrollment(id: p.id, user: "alice", counter: 1, drift: 0, recoveryCodes: nil, now: now + 3600)
            Issue.record("confirmed an expired enrolment")
        } catch { #expect(error.code == .expired) }
        #expect(try f.store.purgeExpiredEnrollments(now: now + 60) == 0)
        #expect(try f.store.purgeExpiredEnrollments(now: now + 60, grace: 0) == 1)
        #expect(try f.store.purgeExpiredEnrollments(now: now + 60, grace: 0) == 0)
    }

    @Test func enrolmentInputsAreChecked() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let s = try OTPSecret.generate()
        for (user, name, ttl) in [("", "phone", Int64(60)), ("a\nb", "phone", 60), (String(repeating: "u", count: 257), "phone", 60),
                                   ("alice", "", 60), ("alice", String(repeating: "n", count: 65), 60), ("alice", "phone", 0)] {
            #expect(throws: StoreError.self) {
                try f.store.beginEnrollment(user: user, name: name, parameters: .standard, secret: s, now: now, ttl: ttl)
            }
        }
        // Too many pending enrolments, and a duplicate token name: conflicts.
        for i in 0..<OTPStore.maxPendingEnrollments {
            _ = try f.store.beginEnrollment(user: "bob", name: "t\(i)", parameters: .standard, secret: s, now: now, ttl: 60)
        }
        do {
            _ = try f.store.beginEnrollment(user: "bob", name: "more", parameters: .standard, secret: s, now: now, ttl: 60)
            Issue.record("allowed too many pending enrolments")
        } catch { #expect(error.code == .conflict) }
        _ = try f.enroll("carol", name: "phone")
        do {
            _ = try f.store.beginEnrollment(user: "carol", name: "phone", parameters: .standard, secret: s, now: now, ttl: 60)
            Issue.record("allowed a duplicate token name")
        } catch { #expect(error.code == .conflict) }
        // Nothing was stored by the refused calls.
        #expect(try f.store.tokens(user: "carol").count == 1)
        #expect(try f.store.tokens(user: "").isEmpty)
    }

    @Test func acceptMovesTheWatermarkForwardOnly() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 100, drift: 0, now: now) == .replayed)
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 99, drift: 0, now: now) == .replayed)
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 101, drift: 1, now: now + 5) == .accepted)
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 101, drift: 1, now: now + 6) == .replayed)
        let t = try #require(try f.store.tokens(user: "alice").first)
        #expect(t.watermark == 101)
        #expect(t.drift == 1)
        #expect(t.lastUsedAt == now + 5)
        do {
            _ = try f.store.acceptCode(user: "alice", tokenID: "nosuchtoken00000", counter: 200, drift: 0, now: now)
            Issue.record("accepted for a missing token")
        } catch { #expect(error.code == .notFound) }
        do {
            _ = try f.store.acceptCode(user: "bob", tokenID: token.id, counter: 200, drift: 0, now: now)
            Issue.record("accepted another user's token")
        } catch { #expect(error.code == .notFound) }
        #expect(try f.store.tokens(user: "alice").first?.watermark == 101)
    }

    @Test func failuresBackOffAndLockOut() throws {
        let policy = LimiterPolicy(freePerHost: 3, freePerUser: 5, baseDelay: 2, maxDelay: 60, lockoutFailures: 20)
        let f = try StoreFixture(policy: policy)
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        // Two free failures from one host, the third makes that host wait 2 s.
        #expect(try f.store.recordFailure(user: "alice", rhost: "10.0.0.1", now: now).state == .open)
        #expect(try f.store.recordFailure(user: "alice", rhost: "10.0.0.1", now: now).state == .open)
        let third = try f.store.recordFailure(user: "alice", rhost: "10.0.0.1", now: now)
        #expect(third.state == .limited(until: now + 2))
        #expect(third.failures == 3)
        // Another host is not yet limited.
        #expect(try f.store.limitState(user: "alice", rhost: "10.0.0.2", now: now) == .open)
        // Waits run on the monotonic clock: the wall-clock `now` only dates them.
        f.clock.advance(seconds: 1)
        #expect(try f.store.limitState(user: "alice", rhost: "10.0.0.1", now: now + 1) == .limited(until: now + 2))
        f.clock.advance(seconds: 1)
        #expect(try f.store.limitState(user: "alice", rhost: "10.0.0.1", now: now + 2) == .open)
        // A limited user is refused even with a good code, and the watermark stays.
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 101, drift: 0, rhost: "10.0.0.1", now: now + 1)
            == .rateLimited(.limited(until: now + 2)))
        #expect(try f.store.tokens(user: "alice").first?.watermark == 100)
        // The per-user counter doubles its wait up to the cap.
        var last = third
        for _ in 3..<10 { last = try f.store.recordFailure(user: "alice", now: now) }
        #expect(last.failures == 10)
        #expect(last.state == .limited(until: now + 60))
        // At the lockout count only an unlock helps, however long one waits.
        for _ in 10..<19 { last = try f.store.recordFailure(user: "alice", now: now) }
        #expect(!last.lockedOutNow)
        last = try f.store.recordFailure(user: "alice", now: now)
        #expect(last.lockedOutNow)
        #expect(last.state == .lockedOut)
        #expect(try f.store.limitState(user: "alice", now: now + 1_000_000) == .lockedOut)
        #expect(try f.store.listUsers(now: now).first { $0.user == "alice" }?.lockedOut == true)
        #expect(try f.store.unlock(user: "alice"))
        #expect(try f.store.limitState(user: "alice", now: now) == .open)
        #expect(try f.store.unlock(user: "nobody") == false)
    }

    @Test func successClearsTheFailureCount() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 2, freePerUser: 2))
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        _ = try f.store.recordFailure(user: "alice", now: now)
        #expect(try f.store.acceptCode(user: "alice", tokenID: token.id, counter: 101, drift: 0, now: now) == .accepted)
        // Had the first failure survived, this one would make the user wait.
        #expect(try f.store.recordFailure(user: "alice", now: now).state == .open)
    }

    @Test func recoveryCodesWorkOnce() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let batch = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        _ = try f.enroll("alice", recovery: batch)
        let code = batch.codes[3]
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: code, now: now) == .accepted(remaining: 9))
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: code, now: now) == .noMatch)
        // Typed sloppily: lower case, spaces, no hyphens.
        let sloppy = batch.codes[4].lowercased().replacingOccurrences(of: "-", with: " ")
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: sloppy, now: now) == .accepted(remaining: 8))
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: "not a code", now: now) == .noMatch)
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: "ZZZZZ-ZZZZZ-ZZZZZ", now: now) == .noMatch)
        // Another user's code does not work for alice.
        let bobBatch = try RecoveryCodeBatch.generate(hasher: .fast, user: "bob")
        _ = try f.enroll("bob", recovery: bobBatch)
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: bobBatch.codes[0], now: now) == .noMatch)
        #expect(try f.store.recoveryCodesRemaining(user: "bob") == 10)
    }

    @Test func rateLimitedRecoveryCodeIsNotEvaluated() throws {
        let f = try StoreFixture(policy: LimiterPolicy(freePerHost: 1, freePerUser: 1))
        defer { f.dir.cleanup() }
        let batch = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        _ = try f.enroll("alice", recovery: batch)
        _ = try f.store.recordFailure(user: "alice", now: now)
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: batch.codes[0], now: now) == .rateLimited(.limited(until: now + 2)))
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 10)
    }

    @Test func regenerateReplacesAllCodes() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let old = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        _ = try f.enroll("alice", recovery: old)
        let new = try RecoveryCodeBatch.generate(hasher: .fast, user: "alice")
        try f.store.replaceRecoveryCodes(user: "alice", batch: new, now: now)
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: old.codes[0], now: now) == .noMatch)
        #expect(try f.store.consumeRecoveryCode(user: "alice", input: new.codes[0], now: now) == .accepted(remaining: 9))
        #expect(throws: StoreError.self) { try f.store.replaceRecoveryCodes(user: "nobody", batch: new, now: now) }
    }

    @Test func standardScryptParametersStayFast() throws {
        let hasher = RecoveryCodeHasher.standard
        #expect(RecoveryCodeHasher(descriptor: hasher.descriptor) == hasher)
        let salt = try RecoveryCodeHasher.newSalt()
        let code = try RecoveryCode.normalize(try RecoveryCode.generate())
        // This thread's CPU time, not the wall clock: scrypt runs on the calling thread,
        // and a loaded machine (or the suites beside this one) stretches wall time only.
        func threadCPU() -> Duration {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return .seconds(t.tv_sec) + .nanoseconds(t.tv_nsec)
        }
        let started = threadCPU()
        _ = try hasher.hash(normalized: code, salt: salt, user: "alice")
        let elapsed = threadCPU() - started
        print("scrypt n=\(hasher.n) r=\(hasher.r) p=\(hasher.p): \(elapsed) of CPU")
        // Not a benchmark: a guard that the parameters did not grow by accident.
        #expect(elapsed < .seconds(1))
        #expect(try hasher.hash(normalized: code, salt: salt, user: "alice") == hasher.hash(normalized: code, salt: salt, user: "alice"))
        #expect(try hasher.hash(normalized: code, salt: salt, user: "alice") != hasher.hash(normalized: code, salt: RecoveryCodeHasher.newSalt(), user: "alice"))
    }

    @Test func removingTheLastTokenRemovesRecoveryCodes() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (phone, _) = try f.enroll("alice", name: "phone", recovery: try RecoveryCodeBatch.generate(hasher: .fast, user: "alice"))
        let (laptop, _) = try f.enroll("alice", name: "laptop")
        #expect(try f.store.removeToken(user: "alice", tokenID: phone.id) == 1)
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 10)
        #expect(throws: StoreError.self) { try f.store.removeToken(user: "bob", tokenID: laptop.id) }
        #expect(try f.store.removeToken(user: "alice", tokenID: laptop.id) == 0)
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 0)
        #expect(throws: StoreError.self) { try f.store.removeToken(user: "alice", tokenID: laptop.id) }
    }

    @Test func resetRemovesEverythingButTheAuditLog() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice", recovery: try RecoveryCodeBatch.generate(hasher: .fast, user: "alice"))
        _ = try f.enroll("bob")
        _ = try f.store.beginEnrollment(user: "alice", name: "x", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 60)
        _ = try f.store.recordFailure(user: "alice", now: now)
        try f.store.appendAudit(AuditEvent(time: now, event: "verify.ok", user: "alice"))
        #expect(try f.store.resetUser("alice"))
        #expect(try f.store.tokens(user: "alice").isEmpty)
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 0)
        #expect(try f.store.listUsers(now: now).map(\.user) == ["bob"])
        #expect(try f.store.auditEvents(user: "alice").count == 1)
        #expect(try f.store.resetUser("alice") == false)
        for table in ["tokens", "enrollments", "recovery_codes", "limiter"] {
            let orphans = try f.store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE user_id NOT IN (SELECT id FROM users)")
            }
            #expect(orphans == 0, "\(table)")
        }
    }

    @Test func listUsersSummarises() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("bob", recovery: try RecoveryCodeBatch.generate(hasher: .fast, user: "bob"))
        _ = try f.enroll("alice")
        _ = try f.store.recordFailure(user: "alice", now: now)
        let list = try f.store.listUsers(now: now)
        #expect(list.map(\.user) == ["alice", "bob"])
        #expect(list[0].tokens == 1 && list[0].recoveryRemaining == 0 && list[0].failures == 1)
        #expect(list[1].tokens == 1 && list[1].recoveryRemaining == 10 && list[1].failures == 0)
    }

    @Test func auditQueryByUserTimeAndLimit() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        for i in 0..<20 {
            try f.store.appendAudit(AuditEvent(time: now + Int64(i), event: "verify.fail", user: i % 2 == 0 ? "alice" : "bob", peerUID: 0, service: "sshd", rhost: "10.0.0.\(i)"))
        }
        #expect(try f.store.auditEvents(limit: 1000).count == 20)
        let alice = try f.store.auditEvents(user: "alice")
        #expect(alice.count == 10 && alice.allSatisfy { $0.user == "alice" })
        #expect(alice.map(\.time) == alice.map(\.time).sorted())
        let recent = try f.store.auditEvents(since: now + 15)
        #expect(recent.map(\.time) == Array((now + 15)...(now + 19)))
        let newestThree = try f.store.auditEvents(limit: 3)
        #expect(newestThree.map(\.time) == [now + 17, now + 18, now + 19])
        #expect(newestThree.first?.service == "sshd" && newestThree.first?.rhost == "10.0.0.17")
        #expect(throws: StoreError.self) { try f.store.auditEvents(limit: 0) }
        #expect(throws: StoreError.self) { try f.store.auditEvents(limit: 10_001) }
    }
}
