import Foundation
import OTPGateProtocol
@testable import OTPGateServer
import Testing

/// verify.precheck and verify.candidates on the injected clock: a grace period ends
/// to the second, belongs to one host, is void while limited and ends with a failure
/// from that host; the enrolment deadline is a boundary in time, not a date far
/// away; several candidates are one attempt.
@Suite("RequestHandler: precheck and candidates")
struct RequestHandlerPrecheckTests {
    func precheck(_ f: HandlerFixture, _ user: String, rhost: String?, grace: Int = 300) throws -> VerifyPrecheckResult {
        try f.call(.verifyPrecheck(VerifyPrecheckRequest(user: user, service: "sshd", rhost: rhost, gracePeriod: grace)), as: HandlerFixture.pam)
            .result(VerifyPrecheckResult.self)
    }

    @Test func graceFromOneHostEndsToTheSecond() throws {
        let f = try HandlerFixture()
        let token = try f.enroll("gr")
        f.clock.advance(seconds: 30)
        #expect(try precheck(f, "gr", rhost: "h1").reason == .enrolled)
        #expect(f.verify("gr", token.code(), rhost: "h1").isSuccess)
        let granted = f.clock.wall
        let grace = try precheck(f, "gr", rhost: "h1")
        #expect(grace.reason == .grace)
        #expect(!grace.needsCode)
        #expect(grace.graceUntil == Timestamp(unixSeconds: granted + 300))
        for (rhost, period) in [("h2", 300), (nil, 300), ("h1", 0)] as [(String?, Int)] {
            #expect(try precheck(f, "gr", rhost: rhost, grace: period).reason == .enrolled, "rhost \(rhost ?? "-"), grace \(period)")
        }
        // A caller that is not root may claim any host: never grace.
        let user = Peer(uid: 1000, gid: 1000, pid: 3, socket: .public, userName: "gr", isAdmin: false, isPrivileged: false)
        let claimed = try f.call(.verifyPrecheck(VerifyPrecheckRequest(user: "gr", rhost: "h1", gracePeriod: 300)), as: user)
            .result(VerifyPrecheckResult.self)
        #expect(claimed.reason == .enrolled)

        f.clock.advance(seconds: 299)
        #expect(try precheck(f, "gr", rhost: "h1").reason == .grace, "one second left")
        f.clock.advance(seconds: 1)
        #expect(try precheck(f, "gr", rhost: "h1").reason == .enrolled, "over")
        #expect(try f.auditEvents("gr").filter { $0 == "verify.grace" }.count == 2)
    }

    @Test func noGraceWhileLimitedAndAFailureFromTheHostEndsIt() throws {
        let f = try HandlerFixture {
            $0.limiter.freePerUser = 2
            $0.limiter.freePerHost = 5
            $0.limiter.baseDelay = 600
        }
        let token = try f.enroll("gr")
        f.clock.advance(seconds: 30)
        #expect(f.verify("gr", token.code(), rhost: "h1").isSuccess)
        for _ in 0..<2 { #expect(f.verify("gr", token.wrongCode(), rhost: "h2").error == .invalidCode) }
        #expect(try precheck(f, "gr", rhost: "h1").reason == .enrolled, "no grace while limited")
        #expect(f.call(.adminUnlock(AdminUnlockRequest(user: "gr"))).isSuccess)
        #expect(try precheck(f, "gr", rhost: "h1").reason == .grace, "control: unlocked, grace again")
        #expect(f.verify("gr", token.wrongCode(), rhost: "h1").error == .invalidCode)
        #expect(try precheck(f, "gr", rhost: "h1").reason == .enrolled, "a failure from the host ends its grace")
    }

    @Test func aUserWithoutATokenNeedsNoCodeUnlessRequired() throws {
        let f = try HandlerFixture()
        let r = try precheck(f, "nobody-here", rhost: "h1")
        #expect(r.reason == .notEnrolled && !r.needsCode && !r.required)
    }

    @Test func maxGracePeriodZeroTurnsGraceOff() throws {
        let f = try HandlerFixture { $0.maxGracePeriod = 0 }
        let token = try f.enroll("ng")
        f.clock.advance(seconds: 30)
        #expect(f.verify("ng", token.code(), rhost: "h1").isSuccess)
        #expect(try precheck(f, "ng", rhost: "h1").reason == .enrolled)
    }

    /// root is in group root, so a required user; it has no token in this store.
    @Test func theEnrolmentDeadlineIsExact() throws {
        let f = try HandlerFixture {
            $0.requiredGroups = ["root"]
            $0.enrollmentDeadline = TestClock.start + 60
        }
        f.clock.advance(seconds: 59)
        let pending = try precheck(f, "root", rhost: nil)
        #expect(pending.reason == .enrollmentPending)
        #expect(!pending.needsCode)
        #expect(pending.required)
        #expect(pending.enrollBy == Timestamp(unixSeconds: f.clock.wall + 1))
        #expect(try f.auditEvents("root") == ["verify.enrollment_pending"])
        f.clock.advance(seconds: 1)
        let due = try precheck(f, "root", rhost: nil)
        #expect(due.reason == .notEnrolled)
        #expect(due.needsCode)
        #expect(f.verify("root", "123456").failure?.required == true)
    }

    @Test func severalCandidatesAreOneAttempt() throws {
        let f = try HandlerFixture()
        let token = try f.enroll("cd", kind: .hotp)
        let wrong = token.wrongCode()
        let failures = { try f.call(.adminList).result(AdminListResult.self).users.first { $0.user == "cd" }?.failures }
        let candidates = { (codes: [String]) in
            f.call(.verifyCandidates(VerifyCandidatesRequest(user: "cd", codes: codes, service: "sshd")), as: HandlerFixture.pam)
        }
        #expect(candidates([wrong, "9" + wrong, "99" + wrong]).error == .invalidCode)
        #expect(try failures() == 1, "three candidates, one failure")
        let ok = try candidates([wrong, token.code(counter: 1)]).result(VerifyCandidatesResult.self)
        #expect(ok.candidate == 1)
        #expect(ok.factor == .hotp)
        #expect(try failures() == 0, "a success clears the count")
        #expect(candidates([token.code(counter: 1)]).error == .replayedCode)
        let recovery = try #require(token.recoveryCodes.first)
        let viaRecovery = try candidates([wrong, recovery.replacingOccurrences(of: "-", with: "").lowercased()])
            .result(VerifyCandidatesResult.self)
        #expect(viaRecovery.candidate == 1)
        #expect(viaRecovery.factor == .recovery)
        #expect(viaRecovery.recoveryRemaining == 9)
        #expect(candidates([recovery]).error == .invalidCode, "a recovery code is used once")
        #expect(f.call(.verifyCandidates(VerifyCandidatesRequest(user: "none-here", codes: ["123456"])), as: HandlerFixture.pam).error == .notEnrolled)
    }
}
