import Foundation
import OTPCore
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Every operation of protocol v1, and the error codes each can answer, through the
/// real daemon's sockets.
@Suite("otpgated operations", .ownThreads)
struct OperationTests {
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    @Test func healthAnswersOnBothSockets() throws {
        let daemon = try DaemonProcess()
        for client in [try daemon.connect(), try daemon.connectAdmin()] {
            let reply = daemon.expectOK(try client.call("health", id: "h1"))
            #expect(reply.id == "h1")
            #expect(reply.string("version")?.split(separator: ".").count == 3, daemon.diagnostics(reply))
            #expect((reply.int("uptime") ?? -1) >= 0)
            #expect(reply.bool("clock_synced") != nil)
            #expect(reply.string("store") == "ok")
        }
    }

    /// Root enrols itself on the public socket with TOTP, as the CLI would, then logs in.
    @Test func totpEnrolmentVerifyReplayAndRecoveryCodes() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.connect()

        let begin = daemon.expectOK(try client.call("enroll.begin", ["user": "root", "name": "phone"], id: "b"))
        let secretText = try #require(begin.string("secret"))
        let secret = try Base32.decode(secretText)
        #expect(secret.count >= 20, "at least 160 bits")
        let uri = try #require(begin.string("uri"))
        #expect(uri.hasPrefix("otpauth://totp/") && uri.contains("secret=" + secretText) && uri.contains("period=30"))
        let expires = try #require(begin.string("expires_at").flatMap(Timestamp.init(rfc3339:)))
        #expect(abs(expires.unixSeconds - (Self.now() + 600)) <= 5, "default enrolment_ttl is 600 s")

        let step = UInt64(Self.now() / 30)
        let code = { (s: UInt64) in HOTP.codeString(secret: secret, counter: s) }
        let enrollment = try #require(begin.string("enrollment"))
        let confirm = daemon.expectOK(
            try client.call("enroll.confirm", ["user": "root", "enrollment": enrollment, "code": code(step)]))
        #expect(confirm.string("name") == "phone")
        let tokenID = try #require(confirm.string("token"))
        let recovery = try #require(confirm.array("recovery_codes")?.compactMap { $0.stringValue })
        #expect(recovery.count == 10 && Set(recovery).count == 10)
        #expect(recovery.allSatisfy { $0.wholeMatch(of: /[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}/) != nil }, "\(recovery)")

        let status = daemon.expectOK(try client.call("status", ["user": "root"]))
        #expect(status.string("user") == "root")
        #expect(status.bool("enrolled") == true)
        #expect(status.bool("required") == false)
        #expect(status.int("recovery_remaining") == 10)
        #expect(status["retry_after"] == nil)
        let tokens = try #require(status.array("tokens"))
        #expect(tokens.count == 1)
        #expect(tokens.first?["id"]?.stringValue == tokenID)
        #expect(tokens.first?["name"]?.stringValue == "phone")
        #expect(tokens.first?["kind"]?.stringValue == "totp")
        #expect(tokens.first?["algorithm"]?.stringValue == "SHA1")
        #expect(tokens.first?["digits"]?.intValue == 6)
        #expect(tokens.first?["period"]?.intValue == 30)
        #expect(tokens.first?["created_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) != nil)

        // The next step's code: inside the ±1 window, above the confirm code's step.
        let ok = daemon.expectOK(try client.call("verify", ["user": "root", "code": code(step + 1), "service": "test"]))
        #expect(ok.string("factor") == "totp")
        #expect(ok.string("token") == "phone")
        #expect(ok.int("recovery_remaining") == 10)
        daemon.expectError(try client.call("verify", ["user": "root", "code": code(step + 1)]), .replayedCode)
        let wrong = EnrolledToken(
            user: "root", id: tokenID, name: "phone", kind: .totp, secret: secret, algorithm: .sha1, digits: 6, period: 30,
            confirmedCounter: step, recoveryCodes: []
        ).wrongCode(avoiding: step - 2...step + 3)
        let invalid = daemon.expectError(try client.call("verify", ["user": "root", "code": wrong]), .invalidCode)
        #expect(invalid.retryAfter == nil)
        daemon.expectError(try client.call("verify", ["user": "root", "code": ""]), .invalidCode)
        daemon.expectError(try client.call("verify", ["user": "root", "code": "12345a"]), .invalidCode)

        // A recovery code works once; typed in lower case without dashes it is the same code.
        let used = daemon.expectOK(try client.call("verify", ["user": "root", "code": recovery[0]]))
        #expect(used.string("factor") == "recovery")
        #expect(used.string("token") == nil)
        #expect(used.int("recovery_remaining") == 9)
        daemon.expectError(try client.call("verify", ["user": "root", "code": recovery[0]]), .invalidCode)
        let typed = recovery[1].lowercased().replacingOccurrences(of: "-", with: " ")
        #expect(daemon.expectOK(try client.call("verify", ["user": "root", "code": typed])).int("recovery_remaining") == 8)

        let after = daemon.expectOK(try client.call("status", ["user": "root"]))
        #expect(after.int("recovery_remaining") == 8)
        #expect(after.array("tokens")?.first?["last_used_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) != nil)
    }

    /// HOTP with other parameters, enrolled for another user on the admin socket.
    @Test func hotpTokenWithSHA512AndEightDigits() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice", kind: .hotp, name: "key", algorithm: .sha512, digits: 8)
        #expect(token.recoveryCodes.count == 10)
        let status = daemon.expectOK(try admin.call("status", ["user": "alice"]))
        let listed = try #require(status.array("tokens")?.first)
        #expect(listed["kind"]?.stringValue == "hotp")
        #expect(listed["algorithm"]?.stringValue == "SHA512")
        #expect(listed["digits"]?.intValue == 8)
        #expect(listed["period"] == nil, "a HOTP token has no period")

        let ok = daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1)]))
        #expect(ok.string("factor") == "hotp")
        #expect(ok.string("token") == "key")
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .replayedCode)
        // A token pressed a few times without logging in: within the look-ahead of 10.
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(5)]))
        // Beyond the look-ahead (watermark 5, so 6...16 are looked at).
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(17)]), .invalidCode)
        // Spaces between digit groups are allowed.
        let spaced = String(token.code(6).prefix(4)) + " " + String(token.code(6).suffix(4))
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": spaced]))
        // A six-digit code for an eight-digit token is malformed: invalid_code.
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": String(token.code(7).prefix(6))]), .invalidCode)
    }

    /// PROTOCOL.md: `replayed_code` is "the code was right but has been used already,
    /// or a later one was accepted since". For HOTP the daemon only recognises the
    /// watermark's own counter as a replay; an older used code is `invalid_code`.
    @Test func hotpCodeOlderThanTheLastAcceptedIsReportedAsReplayed() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1)]))
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(2)]))
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .replayedCode)
    }

    @Test func notEnrolledSaysWhetherPolicyRequiresAFactor() throws {
        let daemon = try DaemonProcess(config: """
            [policy]
            required_groups = ["root"]
            """)
        let admin = try daemon.connectAdmin()
        let unknown = daemon.expectError(try admin.call("verify", ["user": "nosuchuser", "code": "123456"]), .notEnrolled)
        #expect(unknown.bool("required") == false, daemon.diagnostics(unknown))
        let root = daemon.expectError(try admin.call("verify", ["user": "root", "code": "123456"]), .notEnrolled)
        #expect(root.bool("required") == true, daemon.diagnostics(root))
        // The same on the public socket, where root asks for itself.
        let own = daemon.expectError(try daemon.connect().call("verify", ["user": "root", "code": "123456"]), .notEnrolled)
        #expect(own.bool("required") == true)
        // A system user outside the required groups.
        let other = daemon.expectError(try admin.call("verify", ["user": "daemon", "code": "123456"]), .notEnrolled)
        #expect(other.bool("required") == false)

        let status = daemon.expectOK(try admin.call("status", ["user": "root"]))
        #expect(status.bool("enrolled") == false)
        #expect(status.bool("required") == true)
        #expect(status.array("tokens")?.isEmpty == true)
        #expect(status.int("recovery_remaining") == 0)
        // Without a token, token.remove and recovery.regenerate have nothing to act on.
        daemon.expectError(try admin.call("token.remove", ["user": "root", "token": "x"]), .notEnrolled)
        daemon.expectError(try admin.call("recovery.regenerate", ["user": "root"]), .notEnrolled)
    }

    @Test func rateLimitedWithRetryAfterDoesNotEvaluateTheCodeUntilUnlocked() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_user = 2
            base_delay = 60
            """)
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wrong = token.wrongCode(avoiding: 0...20)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .invalidCode)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .invalidCode)
        let limited = daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .rateLimited)
        #expect((55...60).contains(limited.retryAfter ?? -1), daemon.diagnostics(limited))
        // A correct code while limited is not even looked at.
        let correct = daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .rateLimited)
        #expect((55...60).contains(correct.retryAfter ?? -1))

        let status = daemon.expectOK(try admin.call("status", ["user": "alice"]))
        #expect((55...60).contains(status.int("retry_after") ?? -1), daemon.diagnostics(status))
        let listed = try #require(daemon.expectOK(try admin.call("admin.list")).array("users")?.first { $0["user"]?.stringValue == "alice" })
        #expect(listed["failures"]?.intValue == 2, "only evaluated codes are counted")
        #expect(listed["locked_until"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) != nil)
        #expect(listed["locked_out"]?.boolValue == false)

        daemon.expectOK(try admin.call("admin.unlock", ["user": "alice"]))
        // Counter 1 was not used up while limited: it is accepted now.
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1)]))
        // A success clears the count of consecutive failures.
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .invalidCode)
        let after = try #require(daemon.expectOK(try admin.call("admin.list")).array("users")?.first { $0["user"]?.stringValue == "alice" })
        #expect(after["failures"]?.intValue == 1)

        let audit = daemon.expectOK(try admin.call("admin.audit", ["user": "alice"]))
        let events = audit.array("events")?.compactMap { $0["event"]?.stringValue } ?? []
        #expect(events.filter { $0 == "verify.limited" }.count == 2, "\(events)")
        #expect(events.contains("admin.unlock"))
    }

    @Test func perHostBackoffLeavesOtherHostsAlone() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_host = 1
            free_per_user = 10
            base_delay = 60
            """)
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wrong = token.wrongCode(avoiding: 0...20)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong, "rhost": "203.0.113.9"]), .invalidCode)
        let limited = daemon.expectError(
            try admin.call("verify", ["user": "alice", "code": token.code(1), "rhost": "203.0.113.9"]), .rateLimited)
        #expect((55...60).contains(limited.retryAfter ?? -1))
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1), "rhost": "198.51.100.7"]))
    }

    @Test func lockoutIsRateLimitedWithoutRetryAfterUntilUnlocked() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_user = 50
            lockout_failures = 3
            """)
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wrong = token.wrongCode(avoiding: 0...20)
        for _ in 0..<3 {
            daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .invalidCode)
        }
        let locked = daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .rateLimited)
        #expect(locked.retryAfter == nil, daemon.diagnostics(locked))
        let status = daemon.expectOK(try admin.call("status", ["user": "alice"]))
        #expect(status["retry_after"] == nil)
        let listed = try #require(daemon.expectOK(try admin.call("admin.list")).array("users")?.first)
        #expect(listed["locked_out"]?.boolValue == true)
        #expect(listed["failures"]?.intValue == 3)
        let events = daemon.expectOK(try admin.call("admin.audit", ["user": "alice"])).array("events") ?? []
        #expect(events.contains { $0["event"]?.stringValue == "user.locked_out" })

        daemon.expectOK(try admin.call("admin.unlock", ["user": "alice"]))
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1)]))
    }

    @Test func enrolmentErrors() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        daemon.expectError(
            try admin.call("enroll.confirm", ["user": "alice", "enrollment": "nosuchenrollment", "code": "123456"]), .noEnrollment)
        daemon.expectError(try admin.call("enroll.cancel", ["user": "alice", "enrollment": "nosuchenrollment"]), .noEnrollment)

        // Cancelled: gone.
        let begin = daemon.expectOK(try admin.call("enroll.begin", ["user": "alice", "kind": "hotp"]))
        let id = try #require(begin.string("enrollment"))
        let secret = try Base32.decode(try #require(begin.string("secret")))
        daemon.expectOK(try admin.call("enroll.cancel", ["user": "alice", "enrollment": id]))
        daemon.expectError(
            try admin.call("enroll.confirm", ["user": "alice", "enrollment": id, "code": HOTP.codeString(secret: secret, counter: 0)]),
            .noEnrollment)
        daemon.expectError(try admin.call("enroll.cancel", ["user": "alice", "enrollment": id]), .noEnrollment)

        // Another user's enrolment is not found under this user.
        let bobs = daemon.expectOK(try admin.call("enroll.begin", ["user": "bob", "kind": "hotp"]))
        let bobID = try #require(bobs.string("enrollment"))
        let bobSecret = try Base32.decode(try #require(bobs.string("secret")))
        daemon.expectError(
            try admin.call("enroll.confirm", ["user": "alice", "enrollment": bobID, "code": HOTP.codeString(secret: bobSecret, counter: 0)]),
            .noEnrollment)
        // A wrong first code leaves the enrolment pending.
        daemon.expectError(try admin.call("enroll.confirm", ["user": "bob", "enrollment": bobID, "code": "000000x"]), .invalidCode)
        daemon.expectOK(
            try admin.call("enroll.confirm", ["user": "bob", "enrollment": bobID, "code": HOTP.codeString(secret: bobSecret, counter: 0)]))

        // A name already taken by a confirmed token.
        let token = try admin.enroll(user: "alice", name: "phone")
        #expect(token.name == "phone")
        daemon.expectError(try admin.call("enroll.begin", ["user": "alice", "name": "phone"]), .conflict)
        daemon.expectError(try admin.call("token.remove", ["user": "alice", "token": "nosuchtoken"]), .conflict)
        // Unnamed tokens get distinct default names.
        #expect(try admin.enroll(user: "carol").name == "default")
        #expect(try admin.enroll(user: "carol").name != "default")
        // Parameters the store refuses.
        daemon.expectError(try admin.call("enroll.begin", ["user": "alice", "kind": "hotp", "period": 30]), .badRequest)
    }

    @Test func expiredEnrolmentIsReportedAsExpired() throws {
        let daemon = try DaemonProcess(config: """
            [policy]
            enrollment_ttl = 1
            """)
        let admin = try daemon.connectAdmin()
        let begin = daemon.expectOK(try admin.call("enroll.begin", ["user": "alice", "kind": "hotp"]))
        let id = try #require(begin.string("enrollment"))
        let secret = try Base32.decode(try #require(begin.string("secret")))
        sleep(2)
        daemon.expectError(
            try admin.call("enroll.confirm", ["user": "alice", "enrollment": id, "code": HOTP.codeString(secret: secret, counter: 0)]),
            .enrollmentExpired)
    }

    /// On the public socket a user changing its own enrolled factors must give a
    /// current code; on the admin socket no code is needed.
    @Test func factorChangesNeedACurrentCodeOnThePublicSocket() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.connect()
        let first = try client.enroll(user: "root", name: "a")
        #expect(first.recoveryCodes.count == 10)

        // A second token needs a code of the first.
        daemon.expectError(try client.call("enroll.begin", ["user": "root", "name": "b", "kind": "hotp"]), .forbidden)
        let second = try client.enroll(user: "root", name: "b", code: first.code(1))
        #expect(second.recoveryCodes.isEmpty, "recovery codes come only with the first token")
        #expect(daemon.expectOK(try client.call("status", ["user": "root"])).array("tokens")?.count == 2)

        daemon.expectError(try client.call("token.remove", ["user": "root", "token": first.id]), .forbidden)
        daemon.expectError(try client.call("token.remove", ["user": "root", "token": first.id, "code": ""]), .forbidden)
        daemon.expectError(
            try client.call("token.remove", ["user": "root", "token": first.id, "code": first.wrongCode(avoiding: 0...20)]),
            .invalidCode)
        let removed = daemon.expectOK(try client.call("token.remove", ["user": "root", "token": first.id, "code": first.code(2)]))
        #expect(removed.bool("enrolled") == true)

        daemon.expectError(try client.call("recovery.regenerate", ["user": "root"]), .forbidden)
        let regenerated = daemon.expectOK(try client.call("recovery.regenerate", ["user": "root", "code": second.code(1)]))
        let fresh = try #require(regenerated.array("recovery_codes")?.compactMap { $0.stringValue })
        #expect(fresh.count == 10 && Set(fresh).isDisjoint(with: first.recoveryCodes))
        daemon.expectError(try client.call("verify", ["user": "root", "code": first.recoveryCodes[0]]), .invalidCode)
        daemon.expectOK(try client.call("verify", ["user": "root", "code": fresh[0]]))

        // By name works too; the last token gone means not enrolled.
        let last = daemon.expectOK(try client.call("token.remove", ["user": "root", "token": "b", "code": second.code(2)]))
        #expect(last.bool("enrolled") == false)
        #expect(daemon.expectOK(try client.call("status", ["user": "root"])).bool("enrolled") == false)

        // The admin socket needs no code.
        let admin = try daemon.connectAdmin()
        let alices = try admin.enroll(user: "alice")
        daemon.expectOK(try admin.call("recovery.regenerate", ["user": "alice"]))
        #expect(daemon.expectOK(try admin.call("token.remove", ["user": "alice", "token": alices.id])).bool("enrolled") == false)
    }

    /// PROTOCOL.md: `forbidden` is "always audited", including "a missing `code`
    /// where a current code is required".
    @Test func missingCodeRefusalIsAudited() throws {
        let daemon = try DaemonProcess()
        let client = try daemon.connect()
        let token = try client.enroll(user: "root")
        daemon.expectError(try client.call("token.remove", ["user": "root", "token": token.id]), .forbidden)
        let events = daemon.expectOK(try daemon.connectAdmin().call("admin.audit", ["user": "root"])).array("events") ?? []
        #expect(events.contains { $0["event"]?.stringValue == "forbidden" }, "\(events)")
    }

    @Test func adminListResetAndAuditWithFilters() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let start = Self.now()
        let alice = try admin.enroll(user: "alice")
        let bob = try admin.enroll(user: "bob", kind: .totp)
        daemon.expectOK(
            try admin.call("verify", ["user": "alice", "code": alice.code(1), "service": "sshd", "rhost": "192.0.2.1", "tty": "pts/0"]))
        let bobWrong = bob.wrongCode(avoiding: bob.confirmedCounter - 2...bob.confirmedCounter + 3)
        daemon.expectError(try admin.call("verify", ["user": "bob", "code": bobWrong]), .invalidCode)
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": alice.recoveryCodes[0]]))

        let users = try #require(daemon.expectOK(try admin.call("admin.list")).array("users"))
        let a = try #require(users.first { $0["user"]?.stringValue == "alice" })
        let b = try #require(users.first { $0["user"]?.stringValue == "bob" })
        #expect(a["tokens"]?.intValue == 1)
        #expect(a["recovery_remaining"]?.intValue == 9)
        #expect(a["failures"]?.intValue == 0)
        #expect(a["locked_out"]?.boolValue == false)
        #expect(a["last_used_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) != nil)
        #expect(b["failures"]?.intValue == 1)

        let all = try #require(daemon.expectOK(try admin.call("admin.audit", ["limit": 10000])).array("events"))
        let mine = try #require(daemon.expectOK(try admin.call("admin.audit", ["user": "alice"])).array("events"))
        #expect(!mine.isEmpty && mine.allSatisfy { $0["user"]?.stringValue == "alice" })
        #expect(mine.count < all.count)
        let names = mine.compactMap { $0["event"]?.stringValue }
        #expect(names.contains("enroll.begin") && names.contains("enroll.confirm") && names.contains("verify.ok"), "\(names)")
        let login = try #require(mine.first { $0["service"]?.stringValue == "sshd" })
        #expect(login["rhost"]?.stringValue == "192.0.2.1")
        #expect(login["peer_uid"]?.intValue == 0)
        #expect(login["time"]?.stringValue.flatMap(Timestamp.init(rfc3339:)).map { $0.unixSeconds >= start - 1 } == true)

        let two = try #require(daemon.expectOK(try admin.call("admin.audit", ["limit": 2])).array("events"))
        #expect(two == Array(all.suffix(2)), "limit keeps the newest events, oldest first")
        let future = Timestamp(unixSeconds: Self.now() + 3600).rfc3339
        #expect(daemon.expectOK(try admin.call("admin.audit", ["since": future])).array("events")?.isEmpty == true)
        #expect(daemon.expectOK(try admin.call("admin.audit", ["since": Int(start - 60)])).array("events")?.count == all.count)
        daemon.expectError(try admin.call("admin.audit", ["since": "yesterday"]), .badRequest)
        daemon.expectError(try admin.call("admin.audit", ["limit": 0]), .badRequest)
        daemon.expectError(try admin.call("admin.audit", ["limit": 10001]), .badRequest)

        daemon.expectOK(try admin.call("admin.reset", ["user": "alice"]))
        let reset = daemon.expectOK(try admin.call("status", ["user": "alice"]))
        #expect(reset.bool("enrolled") == false)
        #expect(reset.int("recovery_remaining") == 0)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": alice.code(2)]), .notEnrolled)
        let resetEvents = try #require(daemon.expectOK(try admin.call("admin.audit", ["user": "alice"])).array("events"))
        // The reset, then the refused verify of a user who has no token any more.
        #expect(resetEvents.suffix(2).map { $0["event"]?.stringValue } == ["admin.reset", "verify.not_enrolled"])

        // Nothing secret in the audit log or in the daemon's log.
        let auditText = daemon.expectOK(try admin.call("admin.audit", ["limit": 10000])).text
        let logText = daemon.allLogs
        let secrets = [alice, bob].flatMap { t in [Base32.encode(t.secret)] + t.recoveryCodes }
        let codes = [alice.code(0), alice.code(1), bob.code(bob.confirmedCounter), bobWrong]
        for text in [auditText, logText] {
            for secret in secrets {
                #expect(!text.contains(secret))
                #expect(!text.contains(secret.replacingOccurrences(of: "-", with: "")))
            }
            // Whole runs of digits only: a code may occur inside a longer number (a pid).
            let numbers = Set(text.split { !$0.isNumber }.map(String.init))
            for code in codes {
                #expect(!numbers.contains(code), "a code in \(text)")
            }
            #expect(!text.contains("otpauth://"))
        }
    }

    /// `unavailable` when the store cannot be written (the WAL made immutable, which
    /// stops even root): fail closed, and the code is not used up.
    @Test(.enabled(if: geteuid() == 0, "chattr +i needs root"))
    func unavailableWhenTheStoreCannotBeWritten() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wal = daemon.storePath + "-wal"
        guard FileManager.default.fileExists(atPath: wal), try Command.run("/usr/bin/chattr", ["+i", wal]).status == 0 else {
            try Test.cancel("this file system does not support the immutable attribute")
        }
        defer { _ = try? Command.run("/usr/bin/chattr", ["-i", wal]) }
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.wrongCode(avoiding: 0...20)]), .unavailable)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .unavailable)
        // health still answers, so monitoring can look at it.
        daemon.expectOK(try admin.call("health"))
        try Command.check("/usr/bin/chattr", ["-i", wal])
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1)]))
        #expect(daemon.allLogs.contains("store fault"))
    }

    /// `unavailable` also when the daemon refuses a connection over `max_connections`.
    /// (A root connection would take the place of an idle one instead: LoginReserveTests.)
    @Test(.enabled(if: geteuid() == 0, "needs root to create a user"))
    func unavailableWhenConnectionsAreExhausted() throws {
        let daemon = try DaemonProcess(config: """
            [server]
            max_connections = 3
            reserved_connections = 0
            """)
        let user = try ThrowawayUser()
        defer { user.remove() }
        // Readiness came by sd_notify, so no probe connection holds a slot: three are admitted.
        var open: [UserClient] = []
        for _ in 0..<3 {
            let client = try UserClient(user: user, socketPath: daemon.socketPath)
            daemon.expectOK(try client.call("health"))
            open.append(client)
        }
        // socat -t 0.2: it passes the daemon's close on 0.2 s after it saw it (and
        // never, if the daemon kept the connection open).
        let extra = try UserClient(user: user, socketPath: daemon.socketPath, closeWait: "0.2")
        daemon.expectError(try extra.readReply(), .unavailable)
        #expect(extra.closesWithoutReply(within: .seconds(8)))
        open.removeLast().finish()
        // The freed slot is given back once the daemon has seen the close, which nothing
        // tells the test: a new connection is tried until one is served (each try is a
        // setpriv and socat start, no sleep between), for at most 20 s.
        let deadline = ContinuousClock.now + .seconds(20)
        var served = false
        while !served && ContinuousClock.now < deadline {
            served = (try? UserClient(user: user, socketPath: daemon.socketPath).call("health"))?.isSuccess == true
        }
        #expect(served, daemon.diagnostics())
    }
}
