import OTPGateProtocol
import Testing

@Suite("Replies")
struct ReplyTests {
    func roundTrip(_ reply: Reply) throws -> Reply {
        let line = reply.line
        #expect(line.hasSuffix("\n"))
        #expect(line.filter { $0 == "\n" }.count == 1, "exactly one line: \(line)")
        return try Reply.parse(line: Array(line.utf8.dropLast()))
    }

    @Test func successLine() {
        let reply = Reply.success(id: "r1", fields: ["enrolled": true, "tokens": 2])
        #expect(reply.line == #"{"enrolled":true,"id":"r1","ok":true,"tokens":2,"v":1}"# + "\n")
    }

    @Test func successWithoutIDHasNoIDMember() {
        #expect(Reply.success(id: nil).line == #"{"ok":true,"v":1}"# + "\n")
    }

    @Test func failureLine() {
        let reply = Reply.failure(
            id: "r2", code: .rateLimited, message: "too many failures; try again later", retryAfter: 30)
        #expect(
            reply.line
                == #"{"error":"rate_limited","id":"r2","message":"too many failures; try again later","ok":false,"retry_after":30,"v":1}"#
                + "\n")
    }

    @Test func notEnrolledCarriesRequired() throws {
        let reply = Reply.failure(id: nil, code: .notEnrolled, message: "user has no token", extra: ["required": false])
        #expect(
            reply.line == #"{"error":"not_enrolled","message":"user has no token","ok":false,"required":false,"v":1}"#
                + "\n")
        let parsed = try roundTrip(reply)
        guard case .failure(let failure) = parsed.outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.code == .notEnrolled)
        #expect(failure.required == false)
        #expect(failure.retryAfter == nil)
    }

    @Test func envelopeWinsOverFields() {
        let reply = Reply.success(id: nil, fields: ["ok": false, "v": 7, "x": 1])
        #expect(reply.line == #"{"ok":true,"v":1,"x":1}"# + "\n")
        let failure = Reply.failure(id: nil, code: .internal, message: "m", extra: ["error": "other", "ok": true])
        #expect(failure.line == #"{"error":"internal","message":"m","ok":false,"v":1}"# + "\n")
    }

    @Test func newlinesInStringsAreEscaped() throws {
        let reply = Reply.failure(id: "a\nb", code: .internal, message: "line one\nline two\u{2028}")
        let parsed = try roundTrip(reply)
        #expect(parsed == reply)
    }

    @Test(arguments: WireErrorCode.allCases)
    func everyErrorCodeRoundTrips(code: WireErrorCode) throws {
        let reply = Reply.failure(id: "e", code: code, message: "something specific")
        #expect(try roundTrip(reply) == reply)
        #expect(reply.line.contains(#""error":"\#(code.rawValue)""#))
    }

    @Test func typedResultsRoundTrip() throws {
        let t0 = Timestamp(unixSeconds: 1_795_275_646)
        let verify = VerifyResult(factor: .totp, token: "phone", recoveryRemaining: 10)
        #expect(try roundTrip(.success(id: "1", result: verify)).result(VerifyResult.self) == verify)
        #expect(
            Reply.success(id: nil, result: verify).line
                == #"{"factor":"totp","ok":true,"recovery_remaining":10,"token":"phone","v":1}"# + "\n")

        let recovery = VerifyResult(factor: .recovery, token: nil, recoveryRemaining: 9)
        #expect(
            Reply.success(id: nil, result: recovery).line
                == #"{"factor":"recovery","ok":true,"recovery_remaining":9,"v":1}"# + "\n")

        let status = StatusResult(
            user: "alice", enrolled: true, required: true,
            tokens: [
                .init(
                    id: "t1", name: "phone", kind: .totp, algorithm: .sha1, digits: 6, period: 30, createdAt: t0,
                    lastUsedAt: nil),
                .init(
                    id: "t2", name: "key", kind: .hotp, algorithm: .sha256, digits: 8, period: nil, createdAt: t0,
                    lastUsedAt: t0),
            ],
            recoveryRemaining: 10, retryAfter: 12)
        let decodedStatus = try roundTrip(.success(id: "2", result: status)).result(StatusResult.self)
        #expect(decodedStatus == status, "\(decodedStatus)")
        let statusLine = Reply.success(id: nil, result: status).line
        #expect(statusLine.contains(#""created_at":"2026-11-21T15:40:46Z""#))
        #expect(statusLine.contains(#""recovery_remaining":10"#))
        #expect(statusLine.contains(#""retry_after":12"#))

        let begin = EnrollBeginResult(
            enrollment: "e1", secret: "JBSWY3DPEHPK3PXP", uri: "otpauth://totp/x:alice?secret=JBSWY3DPEHPK3PXP",
            expiresAt: t0)
        #expect(try roundTrip(.success(id: nil, result: begin)).result(EnrollBeginResult.self) == begin)
        #expect(Reply.success(id: nil, result: begin).line.contains(#""expires_at":"2026-11-21T15:40:46Z""#))

        let confirm = EnrollConfirmResult(token: "t1", name: "phone", recoveryCodes: ["abcd-efgh", "ijkl-mnop"])
        #expect(try roundTrip(.success(id: nil, result: confirm)).result(EnrollConfirmResult.self) == confirm)
        let confirmAgain = EnrollConfirmResult(token: "t2", name: "key")
        #expect(!Reply.success(id: nil, result: confirmAgain).line.contains("recovery_codes"))

        let removed = TokenRemoveResult(enrolled: false)
        #expect(try roundTrip(.success(id: nil, result: removed)).result(TokenRemoveResult.self) == removed)

        let regenerated = RecoveryRegenerateResult(recoveryCodes: ["a", "b"])
        #expect(
            try roundTrip(.success(id: nil, result: regenerated)).result(RecoveryRegenerateResult.self) == regenerated)
        #expect(Reply.success(id: nil, result: regenerated).line.contains(#""recovery_codes":["a","b"]"#))

        let health = HealthResult(version: "0.1.0", uptime: 42, clockSynced: true, store: "ok")
        #expect(try roundTrip(.success(id: nil, result: health)).result(HealthResult.self) == health)
        #expect(Reply.success(id: nil, result: health).line.contains(#""clock_synced":true"#))

        let list = AdminListResult(users: [
            .init(
                user: "alice", tokens: 2, recoveryRemaining: 10, failures: 0, lockedUntil: nil, lockedOut: false,
                lastUsedAt: t0),
            .init(
                user: "bob", tokens: 1, recoveryRemaining: 0, failures: 100, lockedUntil: t0, lockedOut: true,
                lastUsedAt: nil),
        ])
        #expect(try roundTrip(.success(id: nil, result: list)).result(AdminListResult.self) == list)
        #expect(Reply.success(id: nil, result: list).line.contains(#""locked_until":"2026-11-21T15:40:46Z""#))

        let audit = AdminAuditResult(events: [
            .init(
                time: t0, event: "verify.accepted", user: "alice", peerUID: 0, service: "sshd", rhost: "h",
                detail: "totp"),
            .init(time: t0, event: "daemon.started"),
        ])
        #expect(try roundTrip(.success(id: nil, result: audit)).result(AdminAuditResult.self) == audit)
        #expect(Reply.success(id: nil, result: audit).line.contains(#""peer_uid":0"#))
    }

    @Test func resultThrowsTheFailure() throws {
        let reply = try roundTrip(.failure(id: "x", code: .invalidCode, message: "code not accepted"))
        #expect(throws: ReplyFailure(code: .invalidCode, message: "code not accepted")) {
            try reply.result(VerifyResult.self)
        }
    }

    @Test func resultMismatchIsADecodingError() throws {
        let reply = try roundTrip(.success(id: nil, fields: ["factor": "totp"]))
        do {
            _ = try reply.result(VerifyResult.self)
            Issue.record("expected an error")
        } catch let error as ReplyDecodingError {
            #expect(error.code == .resultMismatch)
        }
    }

    @Test func clientIgnoresUnknownResultFields() throws {
        let line = #"{"v":1,"ok":true,"factor":"hotp","token":"key","recovery_remaining":3,"new_field":[1]}"#
        let reply = try Reply.parse(line: Array(line.utf8))
        #expect(try reply.result(VerifyResult.self) == VerifyResult(factor: .hotp, token: "key", recoveryRemaining: 3))
    }

    @Test func unknownErrorCodeIsKeptRaw() throws {
        let line = #"{"v":1,"ok":false,"error":"quantum_flux","message":"new in v1.7"}"#
        guard case .failure(let failure) = try Reply.parse(line: Array(line.utf8)).outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.code == nil)
        #expect(failure.rawCode == "quantum_flux")
    }

    @Test(arguments: [
        (#"{"v":1,"ok":true"#, ReplyDecodingError.Code.malformed),
        (#"[1]"#, .malformed),
        (#"{"ok":true}"#, .malformed),
        (#"{"v":"1","ok":true}"#, .malformed),
        (#"{"v":2,"ok":true}"#, .unsupportedVersion),
        (#"{"v":1}"#, .malformed),
        (#"{"v":1,"ok":"yes"}"#, .malformed),
        (#"{"v":1,"ok":true,"id":5}"#, .malformed),
        (#"{"v":1,"ok":false,"message":"m"}"#, .malformed),
        (#"{"v":1,"ok":false,"error":"internal"}"#, .malformed),
        (#"{"v":1,"ok":false,"error":"rate_limited","message":"m","retry_after":-1}"#, .malformed),
        (#"{"v":1,"ok":false,"error":"rate_limited","message":"m","retry_after":"5"}"#, .malformed),
    ])
    func malformedRepliesAreRejected(line: String, code: ReplyDecodingError.Code) {
        do {
            _ = try Reply.parse(line: Array(line.utf8))
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.code == code)
        }
    }

    @Test func oversizeReplyIsRejected() {
        let line = [UInt8](repeating: UInt8(ascii: " "), count: ProtocolLimits.maxReplyLineBytes + 1)
        #expect(throws: ReplyDecodingError.self) { try Reply.parse(line: line) }
    }

    @Test func descriptionsWithholdSecrets() {
        let begin = EnrollBeginResult(
            enrollment: "e1", secret: "JBSWY3DPEHPK3PXP", uri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP",
            expiresAt: Timestamp(unixSeconds: 0))
        let regenerated = RecoveryRegenerateResult(recoveryCodes: ["wxyz-2345-abcd"])
        let confirm = EnrollConfirmResult(token: "t", name: "n", recoveryCodes: ["wxyz-2345-abcd"])
        for text in [
            "\(begin)", "\(regenerated)", "\(confirm)", "\(Reply.success(id: nil, result: begin))",
            "\(Reply.success(id: nil, result: regenerated))",
        ] {
            #expect(!text.contains("JBSWY3DPEHPK3PXP"))
            #expect(!text.contains("wxyz"))
        }
    }
}
