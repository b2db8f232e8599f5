import Foundation
import OTPCore
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Issue 13, items 4 and 5: a pending enrolment shows in `status`; one begun without
/// a code fails once the user has a token; wrong confirmation codes are counted by
/// the limiter and audited, so blind confirmation is bounded like guessing a login.
@Suite("otpgated: enrolment confirmation is limited and audited", .ownThreads)
struct EnrolmentHardeningTests {
    static func begin(_ client: SocketClient, user: String, name: String) throws -> (id: String, secret: [UInt8]) {
        let begin = try client.call("enroll.begin", ["user": user, "kind": "hotp", "name": name])
        let id = try #require(begin.string("enrollment"), "\(begin.text)")
        return (id, try Base32.decode(try #require(begin.string("secret"))))
    }

    static func events(_ admin: SocketClient, _ user: String, _ event: String) throws -> Int {
        try admin.call("admin.audit", ["user": user, "limit": 1000]).array("events")?
            .filter { $0["event"]?.stringValue == event }.count ?? -1
    }

    @Test func wrongConfirmationsAreCountedAndAudited() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_user = 3
            base_delay = 60
            """)
        let admin = try daemon.connectAdmin()
        let (id, secret) = try Self.begin(admin, user: "alice", name: "phone")
        let right = HOTP.codeString(secret: secret, counter: 0)
        let wrong = right == "000000" ? "111111" : "000000"
        var outcomes: [String] = []
        for _ in 0..<6 {
            outcomes.append(try admin.call("enroll.confirm", ["user": "alice", "enrollment": id, "code": wrong]).error ?? "ok")
        }
        #expect(outcomes == ["invalid_code", "invalid_code", "invalid_code", "rate_limited", "rate_limited", "rate_limited"])
        #expect(try Self.events(admin, "alice", "enroll.confirm_invalid") == 3)
        #expect(try Self.events(admin, "alice", "enroll.confirm_limited") == 3)
        // Even the right code waits now: a limited attempt is not evaluated.
        daemon.expectError(try admin.call("enroll.confirm", ["user": "alice", "enrollment": id, "code": right]), .rateLimited)
        daemon.expectOK(try admin.call("admin.unlock", ["user": "alice"]))
        daemon.expectOK(try admin.call("enroll.confirm", ["user": "alice", "enrollment": id, "code": right]))
    }

    @Test func parallelBlindConfirmationsGetThePolicy() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_user = 3
            base_delay = 60
            [server]
            worker_threads = 16
            """)
        let admin = try daemon.connectAdmin()
        let (id, secret) = try Self.begin(admin, user: "bob", name: "phone")
        let wrong = (0..<1000).lazy.map { String(format: "%06d", $0) }.first { c in
            (0...10).allSatisfy { HOTP.codeString(secret: secret, counter: UInt64($0)) != c }
        }!
        let socket = daemon.adminSocketPath
        let outcomes = Parallel.run(40) { _, gate in
            do {
                let client = try SocketClient(path: socket)
                guard try client.call("health").isSuccess else { return "health failed" }
                gate()
                return try client.call("enroll.confirm", ["user": "bob", "enrollment": id, "code": wrong]).error ?? "ok"
            } catch {
                return "\(error)"
            }
        }
        #expect(outcomes.filter { $0 == "invalid_code" }.count == 3, "\(outcomes)")
        #expect(outcomes.filter { $0 == "rate_limited" }.count == 37, "\(outcomes)")
    }

    @Test func aCodelessEnrolmentFailsOnceTheUserHasAToken() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let planted = try Self.begin(admin, user: "carol", name: "planted")
        let status = daemon.expectOK(try admin.call("status", ["user": "carol"]))
        let pending = try #require(status.array("pending_enrollments"), "\(status.text)")
        #expect(pending.count == 1)
        #expect(pending.first?["name"]?.stringValue == "planted")
        #expect(pending.first?["begun_without_code"]?.boolValue == true)
        #expect(pending.first?["enrollment"] == nil && pending.first?["id"] == nil, "the id is not shown")

        _ = try admin.enroll(user: "carol", name: "phone")
        let refused = daemon.expectError(
            try admin.call("enroll.confirm", ["user": "carol", "enrollment": planted.id, "code": HOTP.codeString(secret: planted.secret, counter: 0)]),
            .conflict)
        #expect(refused.failure?.message.contains("begin again, with a current code") == true, "\(refused.text)")
        let after = daemon.expectOK(try admin.call("status", ["user": "carol"]))
        #expect(after.array("tokens")?.count == 1)
        #expect(after.array("pending_enrollments")?.isEmpty == true, "the outranked enrolment is removed")
        #expect(try Self.events(admin, "carol", "enroll.outranked") == 1)
    }
}
