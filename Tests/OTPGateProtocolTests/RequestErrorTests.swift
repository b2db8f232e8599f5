import OTPGateProtocol
import Testing

@Suite("Request errors")
struct RequestErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let line: [UInt8]
        let code: WireErrorCode
        let message: String
        let closes: Bool
        let id: String?

        init(_ line: String, _ code: WireErrorCode, _ message: String, closes: Bool = false, id: String? = nil) {
            self.init(bytes: Array(line.utf8), code, message, closes: closes, id: id)
        }

        init(bytes: [UInt8], _ code: WireErrorCode, _ message: String, closes: Bool = false, id: String? = nil) {
            self.line = bytes
            self.code = code
            self.message = message
            self.closes = closes
            self.id = id
        }

        var testDescription: String { message }
    }

    static let framing: [Case] = [
        Case(
            bytes: Array(#"{"v":1,"op":"health","pad":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 8200)
                + Array(#""}"#.utf8),
            .badRequest, "request line exceeds 8192 bytes", closes: true),
        Case(
            bytes: Array(#"{"v":1,"op":"status","user":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8),
            .badRequest, "request line is not valid UTF-8", closes: true),
        Case(bytes: [0xFF, 0xFE], .badRequest, "request line is not valid UTF-8", closes: true),
        // An encoded surrogate (CESU-8) is not UTF-8 either.
        Case(
            bytes: Array(#"{"v":1,"op":"status","user":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),
            .badRequest, "request line is not valid UTF-8", closes: true),
        Case(#"{"v":1,"op":"health""#, .badRequest, "request line is not valid JSON", closes: true),
        Case(#"{"v":1,"op":"health"} {}"#, .badRequest, "request line is not valid JSON", closes: true),
        Case("", .badRequest, "request line is not valid JSON", closes: true),
        Case("hello", .badRequest, "request line is not valid JSON", closes: true),
        Case(#"[{"v":1,"op":"health"}]"#, .badRequest, "request must be a JSON object, not an array", closes: true),
        Case(#""health""#, .badRequest, "request must be a JSON object, not a string", closes: true),
        Case("42", .badRequest, "request must be a JSON object, not a number", closes: true),
        Case("null", .badRequest, "request must be a JSON object, not null", closes: true),
        Case("true", .badRequest, "request must be a JSON object, not a boolean", closes: true),
    ]

    static let envelope: [Case] = [
        Case(
            #"{"id":"a","op":"health"}"#, .unsupportedVersion,
            "missing field 'v'; this daemon speaks protocol version 1", id: "a"),
        Case(
            #"{"v":2,"id":"a","op":"health"}"#, .unsupportedVersion,
            "protocol version 2 is not supported; this daemon speaks protocol version 1", id: "a"),
        Case(
            #"{"v":"1","op":"health"}"#, .unsupportedVersion,
            "field 'v' must be an integer; this daemon speaks protocol version 1"),
        Case(
            #"{"v":true,"op":"health"}"#, .unsupportedVersion,
            "field 'v' must be an integer; this daemon speaks protocol version 1"),
        Case(
            #"{"v":1.5,"op":"health"}"#, .unsupportedVersion,
            "field 'v' must be an integer; this daemon speaks protocol version 1"),
        // The version is checked before the op, so a v2 client learns the right thing.
        Case(
            #"{"v":2,"op":"frobnicate"}"#, .unsupportedVersion,
            "protocol version 2 is not supported; this daemon speaks protocol version 1"),
        Case(#"{"v":1,"id":"a"}"#, .badRequest, "missing required field 'op'", id: "a"),
        Case(#"{"v":1,"id":"a","op":7}"#, .badRequest, "field 'op' must be a string", id: "a"),
        Case(#"{"v":1,"op":["verify"]}"#, .badRequest, "field 'op' must be a string"),
        Case(#"{"v":1,"id":"a","op":"frobnicate"}"#, .unknownOp, "unknown op 'frobnicate'", id: "a"),
        Case(#"{"v":1,"op":"VERIFY"}"#, .unknownOp, "unknown op 'VERIFY'"),
        Case(#"{"v":1,"op":"a\nb"}"#, .unknownOp, "unknown op"),
        Case(#"{"v":1,"op":"\#(String(repeating: "x", count: 65))"}"#, .unknownOp, "unknown op"),
        Case(
            #"{"v":1,"id":7,"op":"health"}"#, .badRequest,
            "field 'id' must be a string of at most 128 bytes without control characters"),
        Case(
            #"{"v":1,"id":"\#(String(repeating: "i", count: 129))","op":"health"}"#, .badRequest,
            "field 'id' must be a string of at most 128 bytes without control characters"),
        Case(
            #"{"v":1,"id":"a\u0000","op":"health"}"#, .badRequest,
            "field 'id' must be a string of at most 128 bytes without control characters"),
    ]

    static let fields: [Case] = [
        Case(#"{"v":1,"id":"r","op":"verify","code":"123456"}"#, .badRequest, "missing required field 'user'", id: "r"),
        Case(#"{"v":1,"id":"r","op":"verify","user":"alice"}"#, .badRequest, "missing required field 'code'", id: "r"),
        Case(#"{"v":1,"op":"verify","user":null,"code":"1"}"#, .badRequest, "missing required field 'user'"),
        Case(
            #"{"v":1,"op":"enroll.confirm","user":"a","code":"1"}"#, .badRequest, "missing required field 'enrollment'"),
        Case(#"{"v":1,"op":"token.remove","user":"a"}"#, .badRequest, "missing required field 'token'"),
        Case(#"{"v":1,"op":"admin.reset"}"#, .badRequest, "missing required field 'user'"),
        Case(
            #"{"v":1,"id":"r","op":"verify","user":1000,"code":"1"}"#, .badRequest,
            "field 'user' must be a string of 1 to 256 bytes", id: "r"),
        Case(
            #"{"v":1,"op":"verify","user":"a","code":123456}"#, .badRequest,
            "field 'code' must be a string of at most 64 bytes"),
        Case(
            #"{"v":1,"op":"verify","user":"a","code":"1","tty":true}"#, .badRequest,
            "field 'tty' must be a string of at most 256 bytes"),
        Case(#"{"v":1,"op":"status","user":""}"#, .badRequest, "field 'user' must be a string of 1 to 256 bytes"),
        Case(
            #"{"v":1,"op":"status","user":"\#(String(repeating: "u", count: 257))"}"#, .badRequest,
            "field 'user' must be a string of 1 to 256 bytes"),
        // 129 two-byte characters: 129 characters but 258 bytes.
        Case(
            #"{"v":1,"op":"status","user":"\#(String(repeating: "é", count: 129))"}"#, .badRequest,
            "field 'user' must be a string of 1 to 256 bytes"),
        Case(
            #"{"v":1,"op":"verify","user":"a","code":"\#(String(repeating: "1", count: 65))"}"#, .badRequest,
            "field 'code' must be a string of at most 64 bytes"),
        Case(
            #"{"v":1,"op":"status","user":"root\u0000alice"}"#, .badRequest,
            "field 'user' must not contain control characters"),
        Case(
            #"{"v":1,"op":"verify","user":"a","code":"1","rhost":"h\nfake log line"}"#, .badRequest,
            "field 'rhost' must not contain control characters"),
        Case(
            #"{"v":1,"op":"verify","user":"a","code":"12\u00003"}"#, .badRequest,
            "field 'code' must not contain control characters"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","digits":"6"}"#, .badRequest,
            "field 'digits' must be an integer from 6 to 8"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","digits":true}"#, .badRequest,
            "field 'digits' must be an integer from 6 to 8"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","digits":9}"#, .badRequest,
            "field 'digits' must be an integer from 6 to 8"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","digits":5}"#, .badRequest,
            "field 'digits' must be an integer from 6 to 8"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","digits":6.5}"#, .badRequest,
            "field 'digits' must be an integer from 6 to 8"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","period":0}"#, .badRequest,
            "field 'period' must be an integer from 1 to 86400"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","period":86401}"#, .badRequest,
            "field 'period' must be an integer from 1 to 86400"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","period":-30}"#, .badRequest,
            "field 'period' must be an integer from 1 to 86400"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","period":99999999999999999999999}"#, .badRequest,
            "field 'period' must be an integer from 1 to 86400"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","kind":"hotp","period":30}"#, .badRequest,
            "field 'period' applies only to kind 'totp'"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","kind":"sms"}"#, .badRequest,
            "field 'kind' must be one of 'totp', 'hotp'"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","algorithm":"sha1"}"#, .badRequest,
            "field 'algorithm' must be one of 'SHA1', 'SHA256', 'SHA512'"),
        Case(
            #"{"v":1,"op":"enroll.begin","user":"a","name":""}"#, .badRequest,
            "field 'name' must be a string of 1 to 64 bytes"),
        Case(#"{"v":1,"op":"admin.audit","limit":0}"#, .badRequest, "field 'limit' must be an integer from 1 to 10000"),
        Case(
            #"{"v":1,"op":"admin.audit","limit":10001}"#, .badRequest,
            "field 'limit' must be an integer from 1 to 10000"),
        Case(
            #"{"v":1,"op":"admin.audit","limit":2.5}"#, .badRequest, "field 'limit' must be an integer from 1 to 10000"),
        Case(
            #"{"v":1,"op":"admin.audit","limit":"10"}"#, .badRequest, "field 'limit' must be an integer from 1 to 10000"
        ),
        Case(
            #"{"v":1,"op":"admin.audit","since":"2026-11-21T15:40:46+01:00"}"#, .badRequest,
            "field 'since' must be an RFC 3339 UTC time like 2026-11-21T15:40:46Z or non-negative Unix seconds"),
        Case(
            #"{"v":1,"op":"admin.audit","since":-1}"#, .badRequest,
            "field 'since' must be an RFC 3339 UTC time like 2026-11-21T15:40:46Z or non-negative Unix seconds"),
        Case(
            #"{"v":1,"op":"admin.audit","since":false}"#, .badRequest,
            "field 'since' must be an RFC 3339 UTC time like 2026-11-21T15:40:46Z or non-negative Unix seconds"),
        // Fields are checked in table order: the first problem is the one reported.
        Case(
            #"{"v":1,"op":"enroll.begin","user":1,"digits":9}"#, .badRequest,
            "field 'user' must be a string of 1 to 256 bytes"),
    ]

    @Test(arguments: framing + envelope + fields)
    func rejected(test: Case) throws {
        let error = try #require(rejection(test.line))
        #expect(error.code == test.code)
        #expect(error.message == test.message)
        #expect(error.closesConnection == test.closes)
        #expect(error.id == test.id)
    }

    @Test func onlyFramingErrorsClose() {
        for test in Self.envelope + Self.fields {
            #expect(rejection(test.line)?.closesConnection == false)
        }
    }

    @Test func limitCountsBytesWithoutTheNewline() throws {
        let prefix = #"{"v":1,"op":"health","pad":""#
        let suffix = #""}"#
        let exact = prefix + String(repeating: "x", count: 8192 - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(exact.utf8.count == 8192)
        #expect(try parse(exact).payload == .health)
        let over = prefix + String(repeating: "x", count: 8193 - prefix.utf8.count - suffix.utf8.count) + suffix
        #expect(rejection(over)?.message == "request line exceeds 8192 bytes")
    }

    @Test func deepNestingIsRejectedNotACrash() {
        let depth = 4000
        let line =
            #"{"v":1,"op":"health","x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            + "}"
        #expect(line.utf8.count <= ProtocolLimits.maxRequestLineBytes)
        let error = rejection(line)
        #expect(error?.code == .badRequest)
        #expect(error?.closesConnection == true)
    }

    @Test func knownOperationIsReportedWithFieldErrors() {
        #expect(rejection(#"{"v":1,"op":"verify","user":"a"}"#)?.operation == .verify)
        #expect(rejection(#"{"v":1,"op":"nope"}"#)?.operation == nil)
    }

    @Test func messagesNeverContainTheCode() {
        let secret = "918273"
        let lines = [
            #"{"v":1,"op":"verify","user":"a","code":"918273\u0000"}"#,
            #"{"v":1,"op":"verify","user":"a","code":"918273918273918273918273918273918273918273918273918273918273918273"}"#,
            #"{"v":1,"op":"verify","user":"a","code":918273}"#,
            #"{"v":1,"op":"verify","user":1,"code":"918273"}"#,
            #"{"v":1,"op":"enroll.confirm","user":"a","enrollment":"","code":"918273"}"#,
            #"{"v":1,"op":"enroll.begin","user":"a","code":918273}"#,
            #"{"v":1,"op":"token.remove","user":"a","token":"t","code":["918273"]}"#,
            #"{"v":1,"op":"recovery.regenerate","user":"a","code":{"c":"918273"}}"#,
        ]
        for line in lines {
            let error = rejection(line)
            #expect(error != nil)
            #expect(error?.message.contains(secret) == false, "\(line)")
            #expect(error?.description.contains(secret) == false)
            #expect(error?.reply.line.contains(secret) == false)
        }
    }

    @Test func errorReplyEchoesTheID() throws {
        let error = try #require(rejection(#"{"v":1,"id":"req-9","op":"verify","user":"a"}"#))
        let reply = try Reply.parse(line: Array(error.reply.line.utf8.dropLast()))
        #expect(reply.id == "req-9")
        guard case .failure(let failure) = reply.outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.code == .badRequest)
        #expect(failure.message == "missing required field 'code'")
    }
}
