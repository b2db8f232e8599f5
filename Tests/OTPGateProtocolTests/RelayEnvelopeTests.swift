import OTPGateProtocol
import Testing

@Suite("Relay envelope")
struct RelayEnvelopeTests {
    private func parse(_ text: String) throws(RequestError) -> RelayEnvelope {
        try RelayEnvelope.parse(line: Array(text.utf8))
    }

    @Test func roundTrip() throws {
        let request = Request(id: "r1", payload: .verify(VerifyRequest(user: "alice", code: "123456", service: "sshd")))
        for caller in [
            RelayCaller(uid: 0, user: "root", privileged: true), RelayCaller(uid: 1000, user: "alice", privileged: false),
            RelayCaller(uid: 4_000_000_000, user: nil, privileged: false),
        ] {
            let envelope = RelayEnvelope(caller: caller, request: request)
            let line = envelope.line
            #expect(line.hasSuffix("\n"))
            #expect(try parse(String(line.dropLast())) == envelope)
        }
    }

    @Test func theRequestInsideIsCheckedAsOnASingleHost() throws {
        // The request's own error, with its id: the caller gets the same answer as from
        // a single host, and the link stays open (v1 does not close for a missing field).
        let line = #"{"relay":1,"caller":{"uid":0,"privileged":true},"request":{"v":1,"id":"x","op":"verify","user":"alice"}}"#
        let error = #expect(throws: RequestError.self) { try parse(line) }
        #expect(error?.message == "missing required field 'code'")
        #expect(error?.id == "x")
        #expect(error?.closesConnection == false)
    }

    @Test(arguments: [
        (#"[1]"#, "relay envelope must be a JSON object"),
        (#"{"caller":{"uid":0,"privileged":true},"request":{}}"#, "relay envelope must have 'relay': 1"),
        (#"{"relay":2,"caller":{"uid":0,"privileged":true},"request":{}}"#, "relay envelope must have 'relay': 1"),
        (#"{"relay":1,"request":{}}"#, "relay envelope needs a 'caller' object"),
        (#"{"relay":1,"caller":{"uid":-1,"privileged":true},"request":{}}"#, "relay caller needs 'uid', an integer from 0 to 4294967295"),
        (#"{"relay":1,"caller":{"uid":4294967296,"privileged":true},"request":{}}"#, "relay caller needs 'uid', an integer from 0 to 4294967295"),
        (#"{"relay":1,"caller":{"uid":"0","privileged":true},"request":{}}"#, "relay caller needs 'uid', an integer from 0 to 4294967295"),
        (#"{"relay":1,"caller":{"uid":0},"request":{}}"#, "relay caller needs 'privileged', true or false"),
        (#"{"relay":1,"caller":{"uid":0,"privileged":1},"request":{}}"#, "relay caller needs 'privileged', true or false"),
        (#"{"relay":1,"caller":{"uid":0,"privileged":false,"user":""},"request":{}}"#, "relay caller's 'user' must be a string of 1-256 bytes without control characters"),
        (#"{"relay":1,"caller":{"uid":0,"privileged":false,"user":"a\nb"},"request":{}}"#, "relay caller's 'user' must be a string of 1-256 bytes without control characters"),
        (#"{"relay":1,"caller":{"uid":0,"privileged":false}}"#, "relay envelope needs a 'request' object"),
        (#"{"relay":1,"caller":{"uid":0,"privileged":false},"request":"{}"}"#, "relay envelope needs a 'request' object"),
        ("{\"relay\":1", "relay envelope is not valid JSON"),
    ])
    func brokenEnvelopesCloseTheLink(line: String, message: String) {
        let error = #expect(throws: RequestError.self) { try parse(line) }
        #expect(error?.message == message)
        #expect(error?.code == .badRequest)
        #expect(error?.closesConnection == true)
    }

    @Test func invalidUTF8AndOversizeLinesAreRefused() {
        let invalid = #expect(throws: RequestError.self) { try RelayEnvelope.parse(line: [0x7B, 0xFF, 0x7D]) }
        #expect(invalid?.message == "relay envelope is not valid UTF-8")
        let huge = [UInt8](repeating: 0x20, count: RelayEnvelope.maxLineBytes + 1)
        let oversize = #expect(throws: RequestError.self) { try RelayEnvelope.parse(line: huge) }
        #expect(oversize?.closesConnection == true)
    }
}
