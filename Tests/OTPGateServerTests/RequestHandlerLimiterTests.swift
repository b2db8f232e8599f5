import OTPGateProtocol
@testable import OTPGateServer
import OTPGateStore
import Testing

/// The attempt limiter as `verify` meets it, on a clock the test moves: the policy's
/// exact count of free failures, the exact wait and its doubling, the lockout at the
/// cap, and the unlock. No wide windows: the clock stands still unless moved.
@Suite("RequestHandler: limiter")
struct RequestHandlerLimiterTests {
    @Test func theFreeFailuresThenTheExactWaitThenItsDoubling() throws {
        let f = try HandlerFixture {
            $0.limiter.freePerUser = 3
            $0.limiter.baseDelay = 60
        }
        let token = try f.enroll("alice")
        let wrong = token.wrongCode()
        for _ in 0..<3 { #expect(f.verify("alice", wrong).error == .invalidCode) }
        let limited = f.verify("alice", wrong)
        #expect(limited.error == .rateLimited)
        #expect(limited.failure?.retryAfter == 60)
        #expect(limited.failure?.message == "too many failed attempts: wait 60 s")
        // A right code while limited is not even evaluated, so not used up.
        f.clock.advance(seconds: 30)
        let right = token.code()
        let refused = f.verify("alice", right)
        #expect(refused.error == .rateLimited)
        #expect(refused.failure?.retryAfter == 30)
        #expect(try f.call(.status(StatusRequest(user: "alice"))).result(StatusResult.self).retryAfter == 30)

        f.clock.advance(seconds: 29)
        #expect(f.verify("alice", right).failure?.retryAfter == 1, "one second is left")
        f.clock.advance(seconds: 1)
        // The wait is over: the fourth failure counts and doubles it.
        #expect(f.verify("alice", wrong).error == .invalidCode)
        #expect(f.verify("alice", wrong).failure?.retryAfter == 120)
        f.clock.advance(seconds: 120)
        // A success clears the consecutive failures: three free ones again.
        #expect(f.verify("alice", token.code()).isSuccess)
        for _ in 0..<3 { #expect(f.verify("alice", wrong).error == .invalidCode) }
        #expect(f.verify("alice", wrong).failure?.retryAfter == 60)

        let events = try f.auditEvents("alice")
        #expect(events.filter { $0 == "verify.limited" }.count == 5, "\(events)")
        #expect(events.filter { $0 == "verify.invalid" }.count == 7, "only evaluated codes are counted")
    }

    @Test func anUnlockEndsAWaitAndTheRightCodeWasNotUsedUp() throws {
        let f = try HandlerFixture {
            $0.limiter.freePerUser = 1
            $0.limiter.baseDelay = 600
        }
        let token = try f.enroll("alice")
        f.clock.advance(seconds: 30)
        #expect(f.verify("alice", token.wrongCode()).error == .invalidCode)
        let right = token.code()
        #expect(f.verify("alice", right).failure?.retryAfter == 600)
        #expect(f.call(.adminUnlock(AdminUnlockRequest(user: "alice"))).isSuccess)
        #expect(f.verify("alice", right).isSuccess, "the same code, refused unseen while limited")
        #expect(try f.auditEvents("alice").suffix(4) == ["verify.invalid", "verify.limited", "admin.unlock", "verify.ok"])
    }

    @Test func oneHostsWaitLeavesAnotherHostAlone() throws {
        let f = try HandlerFixture {
            $0.limiter.freePerHost = 1
            $0.limiter.baseDelay = 60
        }
        let token = try f.enroll("alice")
        f.clock.advance(seconds: 30)
        #expect(f.verify("alice", token.wrongCode(), rhost: "203.0.113.9").error == .invalidCode)
        let limited = f.verify("alice", token.code(), rhost: "203.0.113.9")
        #expect(limited.failure?.retryAfter == 60)
        #expect(f.verify("alice", token.code(), rhost: "198.51.100.7").isSuccess)
    }

    @Test func theLockoutComesAtTheCapAndOnlyAnUnlockEndsIt() throws {
        let f = try HandlerFixture {
            $0.limiter.freePerUser = 1000
            $0.limiter.lockoutFailures = 5
        }
        let token = try f.enroll("alice")
        let wrong = token.wrongCode()
        for _ in 0..<4 { #expect(f.verify("alice", wrong).error == .invalidCode) }
        #expect(!(try f.auditEvents("alice")).contains("user.locked_out"), "one failure short of the cap")
        #expect(f.verify("alice", wrong).error == .invalidCode)
        #expect(try f.auditEvents("alice").contains("user.locked_out"))
        #expect(f.log.text.contains("user locked out"))

        f.clock.advance(seconds: 30)
        let locked = f.verify("alice", token.code())
        #expect(locked.error == .rateLimited)
        #expect(locked.failure?.retryAfter == nil)
        #expect(locked.failure?.message == "too many failed attempts: locked until an administrator runs 'otpgate admin unlock'")
        // Time does not end a lockout.
        f.clock.advance(seconds: 30 * 86_400)
        #expect(f.verify("alice", token.code()).error == .rateLimited)
        let status = try f.call(.status(StatusRequest(user: "alice"))).result(StatusResult.self)
        #expect(status.retryAfter == nil)
        let listed = try #require(try f.call(.adminList).result(AdminListResult.self).users.first { $0.user == "alice" })
        #expect(listed.lockedOut == true)
        #expect(listed.failures == 5)

        #expect(f.call(.adminUnlock(AdminUnlockRequest(user: "alice"))).isSuccess)
        #expect(f.verify("alice", token.code()).isSuccess)
        #expect(try f.auditEvents("alice").last == "verify.ok")
    }

    @Test func unlockingAUserWithoutTokensIsNotEnrolled() throws {
        let f = try HandlerFixture()
        #expect(f.call(.adminUnlock(AdminUnlockRequest(user: "ghost"))).error == .notEnrolled)
    }
}
