import OTPGateProtocol
import Testing

@Suite("verify.precheck and verify.candidates parsing")
struct VerifyPrecheckCandidatesParsingTests {
    @Test func precheckWithAllFields() throws {
        let request = try parse(
            #"{"v":1,"op":"verify.precheck","user":"alice","service":"sshd","rhost":"192.0.2.7","tty":"ssh","grace_period":300}"#)
        #expect(
            request.payload
                == .verifyPrecheck(
                    VerifyPrecheckRequest(user: "alice", service: "sshd", rhost: "192.0.2.7", tty: "ssh", gracePeriod: 300)))
        #expect(request.payload.user == "alice")
    }

    @Test func precheckDefaultsToNoGrace() throws {
        #expect(
            try parse(#"{"v":1,"op":"verify.precheck","user":"alice"}"#).payload
                == .verifyPrecheck(VerifyPrecheckRequest(user: "alice", gracePeriod: 0)))
    }

    @Test func candidates() throws {
        let request = try parse(#"{"v":1,"op":"verify.candidates","user":"bob","codes":["345678","2345678","12345678"]}"#)
        #expect(request.payload == .verifyCandidates(VerifyCandidatesRequest(user: "bob", codes: ["345678", "2345678", "12345678"])))
        // The description, which reaches logs, never holds a code.
        #expect(!request.payload.description.contains("345678"))
    }

    @Test(arguments: [
        (#"{"v":1,"op":"verify.precheck","user":"a","grace_period":86401}"#, "field 'grace_period' must be an integer from 0 to 86400"),
        (#"{"v":1,"op":"verify.precheck","user":"a","grace_period":-1}"#, "field 'grace_period' must be an integer from 0 to 86400"),
        (#"{"v":1,"op":"verify.precheck","user":"a","grace_period":"60"}"#, "field 'grace_period' must be an integer from 0 to 86400"),
        (#"{"v":1,"op":"verify.precheck","user":"a","grace_period":1.5}"#, "field 'grace_period' must be an integer from 0 to 86400"),
        (#"{"v":1,"op":"verify.precheck"}"#, "missing required field 'user'"),
        (#"{"v":1,"op":"verify.candidates","user":"a"}"#, "missing required field 'codes'"),
        (#"{"v":1,"op":"verify.candidates","user":"a","codes":"123456"}"#, "field 'codes' must be an array of 1 to 4 strings"),
        (#"{"v":1,"op":"verify.candidates","user":"a","codes":[]}"#, "field 'codes' must be an array of 1 to 4 strings"),
        (#"{"v":1,"op":"verify.candidates","user":"a","codes":["1","2","3","4","5"]}"#, "field 'codes' must be an array of 1 to 4 strings"),
        (#"{"v":1,"op":"verify.candidates","user":"a","codes":[123456]}"#, "each of 'codes' must be a string of at most 64 bytes"),
        (#"{"v":1,"op":"verify.candidates","user":"a","codes":["\#(String(repeating: "1", count: 65))"]}"#, "each of 'codes' must be a string of at most 64 bytes"),
        (#"{"v":1,"op":"verify.candidates","user":"a","codes":["12\n3456"]}"#, "each of 'codes' must be free of control characters"),
    ])
    func badFieldsAreRejectedByName(line: String, message: String) {
        guard let error = rejection(Array(line.utf8)) else {
            Issue.record("accepted: \(line)")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.message == message)
    }

    @Test func resultsEncodeWithWireNames() throws {
        let precheck = Reply.success(
            id: nil, result: VerifyPrecheckResult(needsCode: false, reason: .enrollmentPending, required: true, enrollBy: Timestamp(unixSeconds: 0)))
        #expect(precheck.line == #"{"enroll_by":"1970-01-01T00:00:00Z","needs_code":false,"ok":true,"reason":"enrollment_pending","required":true,"v":1}"# + "\n")
        let candidates = Reply.success(id: nil, result: VerifyCandidatesResult(candidate: 2, factor: .totp, token: "phone", recoveryRemaining: 10))
        #expect(candidates.line == #"{"candidate":2,"factor":"totp","ok":true,"recovery_remaining":10,"token":"phone","v":1}"# + "\n")
    }
}
