import Foundation
import OTPCore
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// verify.precheck (grace periods, the enrolment deadline) and verify.candidates
/// (several splits, one attempt), through the real daemon as root: the PAM path.
@Suite("otpgated verify.precheck and verify.candidates", .ownThreads)
struct PrecheckCandidatesTests {
    func failures(_ daemon: DaemonProcess, _ user: String) throws -> Int64 {
        let users = try daemon.connectAdmin().call("admin.list").array("users") ?? []
        return users.first { $0["user"]?.stringValue == user }?["failures"]?.intValue ?? 0
    }

    func precheck(_ client: SocketClient, _ user: String, rhost: String?, grace: Int = 300) throws -> Reply {
        var fields: [String: Any] = ["user": user, "grace_period": grace, "service": "sshd"]
        if let rhost { fields["rhost"] = rhost }
        return try client.call("verify.precheck", fields)
    }

    @Test func graceFromOneHostUntilAFailureFromIt() throws {
        let daemon = try DaemonProcess(config: "[limiter]\nfree_per_user = 2\nfree_per_host = 5\nbase_delay = 600\nmax_delay = 600\n")
        let client = try daemon.connect()
        let token = try daemon.connectAdmin().enroll(user: "gr")
        let first = daemon.expectOK(try precheck(client, "gr", rhost: "h1"))
        #expect(first.bool("needs_code") == true && first.string("reason") == "enrolled", daemon.diagnostics(first))

        daemon.expectOK(try client.call("verify", ["user": "gr", "code": token.code(1), "rhost": "h1"]))
        let grace = daemon.expectOK(try precheck(client, "gr", rhost: "h1"))
        #expect(grace.bool("needs_code") == false && grace.string("reason") == "grace", daemon.diagnostics(grace))
        let until = try #require(grace.string("grace_until").flatMap(Timestamp.init(rfc3339:)))
        #expect(abs(until.unixSeconds - (Int64(Date().timeIntervalSince1970) + 300)) <= 10)
        for (rhost, period) in [("h2", 300), (nil, 300), ("h1", 0)] as [(String?, Int)] {
            let r = daemon.expectOK(try precheck(client, "gr", rhost: rhost, grace: period))
            #expect(r.string("reason") == "enrolled", "rhost \(rhost ?? "-") grace \(period): \(r.text)")
        }
        let audit = try daemon.connectAdmin().call("admin.audit", ["user": "gr"]).array("events") ?? []
        #expect(audit.contains { $0["event"]?.stringValue == "verify.grace" && $0["rhost"]?.stringValue == "h1" })

        // Failures from another host leave h1's grace, but a limited user gets none.
        for _ in 0..<2 {
            daemon.expectError(try client.call("verify", ["user": "gr", "code": token.wrongCode(avoiding: 0...20), "rhost": "h2"]), .invalidCode)
        }
        #expect(try precheck(client, "gr", rhost: "h1").string("reason") == "enrolled", "no grace while limited")
        daemon.expectOK(try daemon.connectAdmin().call("admin.unlock", ["user": "gr"]))
        #expect(try precheck(client, "gr", rhost: "h1").string("reason") == "grace", "control: unlocked, grace again")
        // A failure from h1 ends it.
        daemon.expectError(try client.call("verify", ["user": "gr", "code": token.wrongCode(avoiding: 0...20), "rhost": "h1"]), .invalidCode)
        #expect(try precheck(client, "gr", rhost: "h1").string("reason") == "enrolled")
    }

    @Test func maxGracePeriodZeroTurnsGraceOff() throws {
        let daemon = try DaemonProcess(config: "[policy]\nmax_grace_period = 0\n")
        let client = try daemon.connect()
        let token = try daemon.connectAdmin().enroll(user: "ng")
        daemon.expectOK(try client.call("verify", ["user": "ng", "code": token.code(1), "rhost": "h1"]))
        #expect(try precheck(client, "ng", rhost: "h1").string("reason") == "enrolled")
    }

    @Test func notEnrolledAndBadRequests() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.connect()
        let r = daemon.expectOK(try precheck(client, "nobody-\(UInt32.random(in: 0...999_999))", rhost: "h1"))
        #expect(r.bool("needs_code") == false && r.string("reason") == "not_enrolled" && r.bool("required") == false)
        daemon.expectError(try client.call("verify.precheck", ["user": "x", "grace_period": 86_401]), .badRequest)
        daemon.expectError(try client.call("verify.candidates", ["user": "x", "codes": [String]()]), .badRequest)
        daemon.expectError(try client.call("verify.candidates", ["user": "x", "codes": "123456"]), .badRequest)
        daemon.expectServing()
    }

    @Test func candidatesAreOneAttempt() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.connect()
        let token = try daemon.connectAdmin().enroll(user: "cd")
        let wrong = token.wrongCode(avoiding: 0...20)
        daemon.expectError(
            try client.call("verify.candidates", ["user": "cd", "codes": [wrong, "9" + wrong, "99" + wrong]]), .invalidCode)
        #expect(try failures(daemon, "cd") == 1, "three candidates, one failure")
        let ok = daemon.expectOK(try client.call("verify.candidates", ["user": "cd", "codes": [wrong, token.code(1)]]))
        #expect(ok.int("candidate") == 1 && ok.string("factor") == "hotp", daemon.diagnostics(ok))
        #expect(try failures(daemon, "cd") == 0, "a success clears the count")
        daemon.expectError(try client.call("verify.candidates", ["user": "cd", "codes": [token.code(1)]]), .replayedCode)
        let recovery = try #require(token.recoveryCodes.first)
        let viaRecovery = daemon.expectOK(
            try client.call("verify.candidates", ["user": "cd", "codes": [wrong, recovery.replacingOccurrences(of: "-", with: "").lowercased()]]))
        #expect(viaRecovery.int("candidate") == 1 && viaRecovery.string("factor") == "recovery" && viaRecovery.int("recovery_remaining") == 9)
        daemon.expectError(try client.call("verify.candidates", ["user": "none-here", "codes": ["123456"]]), .notEnrolled)
    }

    @Test(arguments: [("2099-01-01T00:00:00Z", true), ("2001-01-01T00:00:00Z", false)])
    func enrolmentDeadline(deadline: String, ahead: Bool) throws {
        // root is in group root, so required; this fresh store has no token for it.
        let daemon = try DaemonProcess(config: "[policy]\nrequired_groups = [\"root\"]\nenrollment_deadline = \"\(deadline)\"\n")
        let r = daemon.expectOK(try precheck(try daemon.connect(), "root", rhost: nil))
        #expect(r.bool("required") == true)
        if ahead {
            #expect(r.bool("needs_code") == false && r.string("reason") == "enrollment_pending" && r.string("enroll_by") == deadline, daemon.diagnostics(r))
            let audit = try daemon.connectAdmin().call("admin.audit", ["user": "root"]).array("events") ?? []
            #expect(audit.contains { $0["event"]?.stringValue == "verify.enrollment_pending" })
        } else {
            #expect(r.bool("needs_code") == true && r.string("reason") == "not_enrolled", daemon.diagnostics(r))
        }
    }
}
