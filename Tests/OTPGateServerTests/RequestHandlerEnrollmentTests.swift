import OTPCore
import OTPGateProtocol
@testable import OTPGateServer
@testable import OTPGateStore
import Testing

/// Enrolment expiry and the purge, by moving the injected clock instead of sleeping.
@Suite("RequestHandler: enrolment expiry")
struct RequestHandlerEnrollmentTests {
    func begin(_ f: HandlerFixture, _ user: String) throws -> (id: String, secret: [UInt8], expires: Timestamp) {
        let r = try f.call(.enrollBegin(EnrollBeginRequest(user: user, kind: .hotp))).result(EnrollBeginResult.self)
        return (r.enrollment, try Base32.decode(r.secret), r.expiresAt)
    }

    func confirm(_ f: HandlerFixture, _ user: String, _ e: (id: String, secret: [UInt8], expires: Timestamp)) -> Reply {
        f.call(.enrollConfirm(EnrollConfirmRequest(user: user, enrollment: e.id, code: HOTP.codeString(secret: e.secret, counter: 0))))
    }

    @Test func anEnrolmentExpiresAtItsTTLToTheSecond() throws {
        let f = try HandlerFixture { $0.enrollmentTTL = 600 }
        let start = f.clock.wall
        let a = try begin(f, "alice")
        let b = try begin(f, "bob")
        #expect(a.expires == Timestamp(unixSeconds: start + 600))
        f.clock.advance(seconds: 599)
        #expect(confirm(f, "alice", a).isSuccess, "one second before the end")
        let pending = try f.call(.status(StatusRequest(user: "bob"))).result(StatusResult.self).pendingEnrollments
        #expect(pending.count == 1)
        f.clock.advance(seconds: 1)
        let late = confirm(f, "bob", b)
        #expect(late.error == .enrollmentExpired)
        #expect(late.failure?.message == "the enrolment expired; begin again")
        #expect(try f.call(.status(StatusRequest(user: "bob"))).result(StatusResult.self).pendingEnrollments.isEmpty)
        // Expired, not purged: still told "expired", and the purge leaves it a day.
        Daemon.purgeEnrollments(f.handler, logger: f.log.logger)
        #expect(confirm(f, "bob", b).error == .enrollmentExpired)
        f.clock.advance(seconds: expiredEnrollmentGrace)
        Daemon.purgeEnrollments(f.handler, logger: f.log.logger)
        #expect(f.log.text.contains("expired enrolments purged"))
        #expect(confirm(f, "bob", b).error == .noEnrollment, "purged a day after it expired")
    }

    @Test func aWrongFirstCodeCountsAsAFailureAndLeavesTheEnrolmentPending() throws {
        let f = try HandlerFixture { $0.limiter.freePerUser = 1; $0.limiter.baseDelay = 60 }
        let e = try begin(f, "carol")
        let wrong = f.call(.enrollConfirm(EnrollConfirmRequest(user: "carol", enrollment: e.id, code: HOTP.codeString(secret: e.secret, counter: 50))))
        #expect(wrong.error == .invalidCode)
        #expect(confirm(f, "carol", e).failure?.retryAfter == 60)
        f.clock.advance(seconds: 60)
        #expect(confirm(f, "carol", e).isSuccess)
        #expect(try f.auditEvents("carol") == ["enroll.begin", "enroll.confirm_invalid", "enroll.confirm_limited", "enroll.confirm"])
        // An unlock ends a confirmation's wait too, and the right code is then accepted.
        let d = try begin(f, "dave")
        #expect(f.call(.enrollConfirm(EnrollConfirmRequest(user: "dave", enrollment: d.id, code: HOTP.codeString(secret: d.secret, counter: 50)))).error == .invalidCode)
        #expect(confirm(f, "dave", d).error == .rateLimited, "the right code waits: a limited attempt is not evaluated")
        #expect(f.call(.adminUnlock(AdminUnlockRequest(user: "dave"))).isSuccess)
        #expect(confirm(f, "dave", d).isSuccess)
    }

    @Test func healthReportsUptimeOnTheInjectedClockAndTheClockMonitorsVerdict() throws {
        let f = try HandlerFixture()
        f.clock.advance(seconds: 42)
        #expect(f.handler.clock.check())
        let health = try f.call(.health).result(HealthResult.self)
        #expect(health.uptime == 42)
        #expect(health.clockSynced)
        #expect(health.store == "ok")
        #expect(health.version == RequestHandler.version)
        // The kernel says unsynchronised: health says so and the log warns.
        f.adjtimex.state = 0
        #expect(!f.handler.clock.check())
        #expect(try f.call(.health).result(HealthResult.self).clockSynced == false)
        #expect(f.log.text.contains("system clock is not NTP-synchronised"))
        #expect(f.log.text.contains("clock.max_error_us=1234"))
        let synced = { f.log.lines(containing: "system clock is NTP-synchronised").count }
        #expect(synced() == 1, "the first check")
        f.adjtimex.state = 1
        #expect(f.handler.clock.check())
        #expect(synced() == 2, "synchronised again is logged once")
        #expect(f.handler.clock.check())
        #expect(synced() == 2)
    }
}
