import OTPGateProtocol
import Testing

@Suite("Request parsing")
struct RequestParsingTests {
    @Test func verifyWithAllFields() throws {
        let request = try parse(
            #"{"v":1,"id":"r1","op":"verify","user":"alice","code":"123 456","service":"sshd","rhost":"192.0.2.7","tty":"ssh"}"#
        )
        #expect(request.id == "r1")
        #expect(request.operation == .verify)
        #expect(
            request.payload
                == .verify(
                    VerifyRequest(user: "alice", code: "123 456", service: "sshd", rhost: "192.0.2.7", tty: "ssh")))
        #expect(request.payload.user == "alice")
    }

    @Test func verifyWithRequiredFieldsOnly() throws {
        let request = try parse(#"{"v":1,"op":"verify","user":"alice","code":"123456"}"#)
        #expect(request.id == nil)
        #expect(request.payload == .verify(VerifyRequest(user: "alice", code: "123456")))
    }

    @Test func emptyCodeIsLeftToTheDaemon() throws {
        let request = try parse(#"{"v":1,"op":"verify","user":"alice","code":""}"#)
        #expect(request.payload == .verify(VerifyRequest(user: "alice", code: "")))
    }

    @Test func status() throws {
        #expect(try parse(#"{"v":1,"op":"status","user":"bob"}"#).payload == .status(StatusRequest(user: "bob")))
    }

    @Test func enrollBeginWithAllFields() throws {
        let request = try parse(
            #"{"v":1,"op":"enroll.begin","user":"alice","name":"phone","kind":"totp","algorithm":"SHA256","digits":8,"period":60,"code":"654321"}"#
        )
        #expect(
            request.payload
                == .enrollBegin(
                    EnrollBeginRequest(
                        user: "alice", name: "phone", kind: .totp, algorithm: .sha256, digits: 8, period: 60,
                        code: "654321")))
    }

    @Test func enrollBeginDefaults() throws {
        let request = try parse(#"{"v":1,"op":"enroll.begin","user":"alice"}"#)
        #expect(request.payload == .enrollBegin(EnrollBeginRequest(user: "alice")))
    }

    @Test func enrollBeginHOTP() throws {
        let request = try parse(
            #"{"v":1,"op":"enroll.begin","user":"alice","kind":"hotp","algorithm":"SHA512","digits":6}"#)
        #expect(
            request.payload
                == .enrollBegin(EnrollBeginRequest(user: "alice", kind: .hotp, algorithm: .sha512, digits: 6)))
    }

    @Test func enrollConfirm() throws {
        let request = try parse(#"{"v":1,"op":"enroll.confirm","user":"alice","enrollment":"e-1","code":"123456"}"#)
        #expect(
            request.payload == .enrollConfirm(EnrollConfirmRequest(user: "alice", enrollment: "e-1", code: "123456")))
    }

    @Test func enrollCancel() throws {
        let request = try parse(#"{"v":1,"op":"enroll.cancel","user":"alice","enrollment":"e-1"}"#)
        #expect(request.payload == .enrollCancel(EnrollCancelRequest(user: "alice", enrollment: "e-1")))
    }

    @Test func tokenRemove() throws {
        let withCode = try parse(#"{"v":1,"op":"token.remove","user":"alice","token":"t-1","code":"123456"}"#)
        #expect(withCode.payload == .tokenRemove(TokenRemoveRequest(user: "alice", token: "t-1", code: "123456")))
        let withoutCode = try parse(#"{"v":1,"op":"token.remove","user":"alice","token":"t-1"}"#)
        #expect(withoutCode.payload == .tokenRemove(TokenRemoveRequest(user: "alice", token: "t-1")))
    }

    @Test func recoveryRegenerate() throws {
        let request = try parse(#"{"v":1,"op":"recovery.regenerate","user":"alice","code":"123456"}"#)
        #expect(request.payload == .recoveryRegenerate(RecoveryRegenerateRequest(user: "alice", code: "123456")))
    }

    @Test func healthAndAdminList() throws {
        #expect(try parse(#"{"v":1,"op":"health"}"#).payload == .health)
        #expect(try parse(#"{"v":1,"op":"admin.list"}"#).payload == .adminList)
        #expect(try parse(#"{"v":1,"op":"health"}"#).payload.user == nil)
    }

    @Test func adminResetAndUnlock() throws {
        #expect(
            try parse(#"{"v":1,"op":"admin.reset","user":"carol"}"#).payload
                == .adminReset(AdminResetRequest(user: "carol")))
        #expect(
            try parse(#"{"v":1,"op":"admin.unlock","user":"carol"}"#).payload
                == .adminUnlock(AdminUnlockRequest(user: "carol")))
    }

    @Test func adminAuditWithAllFields() throws {
        let request = try parse(#"{"v":1,"op":"admin.audit","user":"alice","since":"2026-11-21T15:40:46Z","limit":50}"#)
        #expect(
            request.payload
                == .adminAudit(
                    AdminAuditRequest(user: "alice", since: Timestamp(unixSeconds: 1_795_275_646), limit: 50)))
    }

    @Test func adminAuditAcceptsUnixSeconds() throws {
        let request = try parse(#"{"v":1,"op":"admin.audit","since":1795275646}"#)
        #expect(request.payload == .adminAudit(AdminAuditRequest(since: Timestamp(unixSeconds: 1_795_275_646))))
    }

    @Test func adminAuditWithoutFields() throws {
        #expect(try parse(#"{"v":1,"op":"admin.audit"}"#).payload == .adminAudit(AdminAuditRequest()))
    }

    @Test func limitsAtTheirBoundsAreAccepted() throws {
        for digits in [6, 8] {
            _ = try parse(#"{"v":1,"op":"enroll.begin","user":"a","digits":\#(digits)}"#)
        }
        for period in [1, 86400] {
            _ = try parse(#"{"v":1,"op":"enroll.begin","user":"a","period":\#(period)}"#)
        }
        for limit in [1, 10000] {
            _ = try parse(#"{"v":1,"op":"admin.audit","limit":\#(limit)}"#)
        }
        let user = String(repeating: "u", count: 256)
        _ = try parse(#"{"v":1,"op":"status","user":"\#(user)"}"#)
        let code = String(repeating: "1", count: 64)
        _ = try parse(#"{"v":1,"op":"verify","user":"a","code":"\#(code)"}"#)
        let id = String(repeating: "i", count: 128)
        #expect(try parse(#"{"v":1,"id":"\#(id)","op":"health"}"#).id == id)
    }

    @Test func unknownFieldsAreIgnored() throws {
        let request = try parse(#"{"v":1,"op":"status","user":"bob","future":{"nested":[1,2]},"flag":true}"#)
        #expect(request.payload == .status(StatusRequest(user: "bob")))
    }

    @Test func nullCountsAsAbsent() throws {
        let request = try parse(#"{"v":1,"id":null,"op":"verify","user":"a","code":"1","service":null}"#)
        #expect(request.id == nil)
        #expect(request.payload == .verify(VerifyRequest(user: "a", code: "1")))
    }

    @Test func unicodeUserNamesAndEscapesAreRead() throws {
        let request = try parse(#"{"v":1,"op":"status","user":"j\u00f6rg"}"#)
        #expect(request.payload.user == "jörg")
    }

    @Test func surroundingWhitespaceAndCarriageReturnAreTolerated() throws {
        #expect(try parse(" {\"v\":1,\"op\":\"health\"}\r").payload == .health)
    }

    @Test func integralFloatIsAnInteger() throws {
        // JSON does not tell 8 from 8.0; both are the integer eight.
        let request = try parse(#"{"v":1,"op":"enroll.begin","user":"a","digits":8.0}"#)
        #expect(request.payload == .enrollBegin(EnrollBeginRequest(user: "a", digits: 8)))
    }

    static let everyRequest: [Request] = [
        Request(
            id: "1",
            payload: .verify(VerifyRequest(user: "alice", code: "123456", service: "sshd", rhost: "h", tty: "pts/0"))),
        Request(payload: .verify(VerifyRequest(user: "alice", code: "123456"))),
        Request(payload: .verifyPrecheck(VerifyPrecheckRequest(user: "alice", rhost: "h", gracePeriod: 60))),
        Request(payload: .verifyPrecheck(VerifyPrecheckRequest(user: "alice"))),
        Request(payload: .verifyCandidates(VerifyCandidatesRequest(user: "alice", codes: ["345678", "12345678"], service: "sshd"))),
        Request(id: "2", payload: .status(StatusRequest(user: "alice"))),
        Request(
            id: "3",
            payload: .enrollBegin(
                EnrollBeginRequest(
                    user: "alice", name: "phone", kind: .totp, algorithm: .sha1, digits: 6, period: 30, code: "1"))),
        Request(payload: .enrollBegin(EnrollBeginRequest(user: "alice"))),
        Request(payload: .enrollConfirm(EnrollConfirmRequest(user: "alice", enrollment: "e", code: "123456"))),
        Request(payload: .enrollCancel(EnrollCancelRequest(user: "alice", enrollment: "e"))),
        Request(payload: .tokenRemove(TokenRemoveRequest(user: "alice", token: "t", code: "123456"))),
        Request(payload: .tokenRemove(TokenRemoveRequest(user: "alice", token: "t"))),
        Request(payload: .recoveryRegenerate(RecoveryRegenerateRequest(user: "alice", code: "123456"))),
        Request(payload: .recoveryRegenerate(RecoveryRegenerateRequest(user: "alice"))),
        Request(payload: .health),
        Request(payload: .adminList),
        Request(payload: .adminReset(AdminResetRequest(user: "alice"))),
        Request(payload: .adminUnlock(AdminUnlockRequest(user: "alice"))),
        Request(payload: .adminAudit(AdminAuditRequest(user: "alice", since: Timestamp(unixSeconds: 0), limit: 10))),
        Request(payload: .adminAudit(AdminAuditRequest())),
        Request(payload: .adminRekey),
        Request(
            payload: .adminImport(
                AdminImportRequest(
                    user: "alice", source: "google-authenticator /home/alice/.google_authenticator", mode: .replace,
                    dryRun: true,
                    tokens: [
                        .init(name: "ga", kind: .totp, algorithm: .sha1, digits: 6, period: 30, secret: "JBSWY3DPEHPK3PXP",
                              watermark: 7, skew: -2, window: 3),
                        .init(name: "hw", kind: .hotp, algorithm: .sha256, digits: 8, period: nil, secret: "JBSWY3DPEHPK3PXP",
                              counter: 5),
                    ],
                    scratchCodes: ["12345678"]))),
        Request(payload: .adminImport(AdminImportRequest(user: "a", source: "s", tokens: [
            .init(name: "t", kind: .totp, algorithm: .sha1, digits: 6, period: nil, secret: "AAAA")]))),
        Request(payload: .tokenResync(TokenResyncRequest(user: "alice", token: "phone", codes: ["123456", "654321"]))),
        Request(payload: .tokenResync(TokenResyncRequest(user: "alice", codes: ["1", "2", "3"]))),
    ]

    @Test(arguments: everyRequest)
    func requestLinesRoundTrip(request: Request) throws {
        let line = request.line
        #expect(line.hasSuffix("\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasPrefix("{"))
        #expect(try Request.parse(line: Array(line.utf8.dropLast())) == request)
    }

    @Test func everyOperationIsCovered() {
        #expect(Set(Self.everyRequest.map(\.operation)) == Set(WireOperation.allCases))
    }

    @Test func requestLineIsDeterministic() {
        let request = Request(id: "x", payload: .verify(VerifyRequest(user: "alice", code: "123456", service: "sshd")))
        #expect(
            request.line == #"{"code":"123456","id":"x","op":"verify","service":"sshd","user":"alice","v":1}"# + "\n")
    }

    @Test func adminOperations() {
        #expect(
            WireOperation.allCases.filter(\.isAdminOnly) == [.adminList, .adminReset, .adminUnlock, .adminAudit, .adminRekey, .adminImport])
    }

    @Test func descriptionsWithholdCodes() throws {
        let lines = [
            #"{"v":1,"id":"a","op":"verify","user":"alice","code":"918273"}"#,
            #"{"v":1,"op":"enroll.begin","user":"alice","code":"918273"}"#,
            #"{"v":1,"op":"enroll.confirm","user":"alice","enrollment":"e","code":"918273"}"#,
            #"{"v":1,"op":"token.remove","user":"alice","token":"t","code":"918273"}"#,
            #"{"v":1,"op":"recovery.regenerate","user":"alice","code":"918273"}"#,
            #"{"v":1,"op":"token.resync","user":"alice","codes":["918273","918274"]}"#,
            #"{"v":1,"op":"admin.import","user":"alice","source":"s","tokens":[{"name":"t","secret":"918273AB"}],"scratch_codes":["91827300"]}"#,
        ]
        for line in lines {
            let request = try parse(line)
            for text in [
                "\(request)", String(reflecting: request), "\(request.payload)", String(reflecting: request.payload),
            ] {
                #expect(!text.contains("918273"), "\(text)")
                #expect(text.contains("alice"))
            }
        }
    }
}
