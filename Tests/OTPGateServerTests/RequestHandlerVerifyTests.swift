import OTPGateProtocol
@testable import OTPGateServer
import Testing

/// `verify` through the request handler against a real store, on a clock the test
/// moves: accepted, wrong, replayed, the TOTP window, HOTP counters.
@Suite("RequestHandler: verify")
struct RequestHandlerVerifyTests {
    @Test func theCurrentCodeIsAcceptedAWrongOneIsNot() throws {
        let f = try HandlerFixture()
        let token = try f.enroll("alice", name: "phone")
        f.clock.advance(seconds: 30)  // the confirming code's step is used up
        let ok = f.verify("alice", token.code())
        let result = try ok.result(VerifyResult.self)
        #expect(result.factor == .totp)
        #expect(result.token == "phone")
        #expect(result.recoveryRemaining == 10)
        #expect(ok.id == "t")

        f.clock.advance(seconds: 30)
        let wrong = f.verify("alice", token.wrongCode())
        #expect(wrong.error == .invalidCode)
        #expect(wrong.failure?.message == "the code is not valid")
        #expect(try f.auditEvents("alice").suffix(2) == ["verify.ok", "verify.invalid"])
        // No code reaches the log.
        #expect(!f.log.text.contains(token.code(steps: -1)))
    }

    @Test func theSameStepIsRefusedAsReplayedAndAnOlderOneToo() throws {
        let f = try HandlerFixture()
        let token = try f.enroll("alice")
        // The code that confirmed the enrolment cannot log in.
        #expect(f.verify("alice", token.code()).error == .replayedCode)
        f.clock.advance(seconds: 30)
        let code = token.code()
        #expect(f.verify("alice", code).isSuccess)
        let again = f.verify("alice", code)
        #expect(again.error == .replayedCode)
        #expect(again.failure?.message == "that code was already used; wait for the next one")
        // Still inside the window, but behind the watermark.
        #expect(f.verify("alice", token.code(steps: -1)).error == .replayedCode)
        // The next step is new.
        f.clock.advance(seconds: 30)
        #expect(f.verify("alice", token.code()).isSuccess)
        #expect(try f.auditEvents("alice").filter { $0 == "verify.replayed" }.count == 3)
    }

    /// The window is ±1 step around the injected clock: a code two steps ahead is
    /// wrong now and right once the clock has moved to it.
    @Test func theWindowFollowsTheInjectedClock() throws {
        let f = try HandlerFixture { $0.window = 1 }
        let token = try f.enroll("alice")
        let ahead = token.code(steps: 2)
        #expect(f.verify("alice", ahead).error == .invalidCode)
        #expect(f.verify("alice", token.code(steps: 1)).isSuccess, "one step ahead is inside the window")
        f.clock.advance(seconds: 30)
        #expect(f.verify("alice", ahead).isSuccess, "now one step ahead")
    }

    @Test func hotpCountersMoveForwardOnlyWithinTheLookAhead() throws {
        let f = try HandlerFixture { $0.hotpLookAhead = 3 }
        let token = try f.enroll("bob", kind: .hotp)
        // Counter 0 confirmed the enrolment.
        #expect(f.verify("bob", token.code(counter: 0)).error == .replayedCode)
        let first = f.verify("bob", token.code(counter: 1))
        #expect(try first.result(VerifyResult.self).factor == .hotp)
        #expect(f.verify("bob", token.code(counter: 1)).error == .replayedCode)
        // A skip within the look-ahead is accepted, and what it skipped is used up.
        #expect(f.verify("bob", token.code(counter: 4)).isSuccess)
        #expect(f.verify("bob", token.code(counter: 3)).error == .replayedCode)
        // The look-ahead is the next counter (5) and 3 more: 9 does not match, 8 does.
        #expect(f.verify("bob", token.code(counter: 9)).error == .invalidCode)
        #expect(f.verify("bob", token.code(counter: 8)).isSuccess)
        // Time does not matter to HOTP.
        f.clock.advance(seconds: 86_400)
        #expect(f.verify("bob", token.code(counter: 9)).isSuccess)
    }

    @Test func aUserWithoutATokenIsNotEnrolled() throws {
        let f = try HandlerFixture { $0.requiredGroups = [] }
        let reply = f.verify("nobody-here", "123456")
        #expect(reply.error == .notEnrolled)
        #expect(reply.failure?.required == false)
        #expect(try f.auditEvents("nobody-here") == ["verify.not_enrolled"])
    }
}
