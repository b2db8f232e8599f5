import Foundation
import OTPGateProtocol
@testable import OTPGateServer
import OTPGateStore
import Testing

/// Bad input through the in-process daemon's real pipeline: framing errors are
/// answered with `bad_request` (no id) and close the connection; errors inside a
/// well-formed object name their code, echo the id and keep it open; none of it
/// changes the store.
@Suite("Daemon bad input")
struct DaemonBadInputTests {
    static let health = Array(#"{"v":1,"op":"health","id":"x"}"#.utf8)

    static let framingErrors: [(String, [UInt8])] = [
        ("a line over 8192 bytes, answered before its newline", Array(repeating: UInt8(ascii: "x"), count: 8193)),
        ("a request padded to 8193 bytes", health + Array(repeating: 0x20, count: 8193 - health.count) + [0x0A]),
        ("invalid UTF-8", Array(#"{"v":1,"op":"health","id":""#.utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8)),
        ("an overlong UTF-8 encoding", Array(#"{"v":1,"op":"health","id":""#.utf8) + [0xC0, 0xAF] + Array("\"}\n".utf8)),
        ("not JSON", Array("{\"v\":1,\n".utf8)),
        ("a JSON array", Array("[1,2,3]\n".utf8)),
        ("a JSON string", Array("\"health\"\n".utf8)),
        ("a JSON number", Array("42\n".utf8)),
        ("JSON null", Array("null\n".utf8)),
        ("an empty line", [0x0A]),
        ("a NUL byte", Array("{\"v\":1,\0\"op\":\"health\"}\n".utf8)),
    ]

    static let requestErrors: [(String, String, WireErrorCode)] = [
        ("unknown op", #"{"v":1,"id":"r","op":"frobnicate"}"#, .unknownOp),
        ("v 2", #"{"v":2,"id":"r","op":"health"}"#, .unsupportedVersion),
        ("v as a string", #"{"v":"1","id":"r","op":"health"}"#, .unsupportedVersion),
        ("v missing", #"{"id":"r","op":"health"}"#, .unsupportedVersion),
        ("v 1.5", #"{"v":1.5,"id":"r","op":"health"}"#, .unsupportedVersion),
        ("op missing", #"{"v":1,"id":"r"}"#, .badRequest),
        ("op not a string", #"{"v":1,"id":"r","op":7}"#, .badRequest),
        ("missing field", #"{"v":1,"id":"r","op":"verify","user":"alice"}"#, .badRequest),
        ("null required field", #"{"v":1,"id":"r","op":"verify","user":"alice","code":null}"#, .badRequest),
        ("user as a number", #"{"v":1,"id":"r","op":"verify","user":1000,"code":"123456"}"#, .badRequest),
        ("digits as a string", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":"6"}"#, .badRequest),
        ("digits 9", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":9}"#, .badRequest),
        ("digits 6.5", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":6.5}"#, .badRequest),
        ("period 0", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","period":0}"#, .badRequest),
        ("a period for HOTP", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","kind":"hotp","period":30}"#, .badRequest),
        ("unknown kind", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","kind":"sms"}"#, .badRequest),
        ("code over 64 bytes", #"{"v":1,"id":"r","op":"verify","user":"root","code":"\#(String(repeating: "1", count: 65))"}"#, .badRequest),
        ("control character in user", #"{"v":1,"id":"r","op":"status","user":"ro\u0001ot"}"#, .badRequest),
        ("empty user", #"{"v":1,"id":"r","op":"status","user":""}"#, .badRequest),
        ("boolean as a number", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":true}"#, .badRequest),
        ("audit since not a time", #"{"v":1,"id":"r","op":"admin.audit","since":"yesterday"}"#, .badRequest),
        ("audit limit over the cap", #"{"v":1,"id":"r","op":"admin.audit","limit":10001}"#, .badRequest),
        ("grace over a day", #"{"v":1,"id":"r","op":"verify.precheck","user":"x","grace_period":86401}"#, .badRequest),
        ("no candidates", #"{"v":1,"id":"r","op":"verify.candidates","user":"x","codes":[]}"#, .badRequest),
        ("candidates not an array", #"{"v":1,"id":"r","op":"verify.candidates","user":"x","codes":"123456"}"#, .badRequest),
    ]

    @Test func framingErrorsAreAnsweredThenTheConnectionCloses() async throws {
        let f = try HandlerFixture()
        let daemon = try await InProcessDaemon.start(f)
        let outcomes = try await blocking {
            try Self.framingErrors.map { what, bytes -> (String, Reply, String?) in
                let c = try LineSocket(path: f.config.socketPath)
                try c.send(bytes: bytes)
                return (what, try c.readReply(), try c.readLine())
            }
        }
        for (what, reply, after) in outcomes {
            #expect(reply.error == .badRequest, "\(what): \(reply)")
            #expect(reply.id == nil, "\(what): no id can be trusted")
            #expect(!(reply.failure?.message.isEmpty ?? true))
            #expect(after == nil, "\(what): the connection must close")
        }
        // Exactly at the limit is fine.
        let exact = try await blocking {
            try LineSocket(path: f.config.socketPath).call(line: String(decoding: Self.health + Array(repeating: 0x20, count: 8192 - Self.health.count), as: UTF8.self))
        }
        #expect(exact.isSuccess)
        try await daemon.stop()
    }

    @Test func requestErrorsKeepTheConnectionOpenAndChangeNothing() async throws {
        let f = try HandlerFixture()
        let daemon = try await InProcessDaemon.start(f)
        let (outcomes, badID, numericID, unknownMembers) = try await blocking {
            let c = try LineSocket(path: f.config.adminSocketPath)
            let outcomes = try Self.requestErrors.map { what, line, _ in
                (what, try c.call(line: line), try c.call(Request(id: "next", payload: .health)))
            }
            return (
                outcomes,
                try c.call(line: #"{"v":1,"id":"\#(String(repeating: "i", count: 129))","op":"health"}"#),
                try c.call(line: #"{"v":1,"id":7,"op":"health"}"#),
                try c.call(line: #"{"v":1,"op":"health","future":{"x":[1]}}"# + "\r"))
        }
        for ((what, reply, next), (_, _, code)) in zip(outcomes, Self.requestErrors) {
            #expect(reply.error == code, "\(what): \(reply)")
            #expect(reply.id == "r", "\(what): the id is echoed")
            #expect(next.isSuccess, "\(what): the connection goes on serving")
        }
        #expect(badID.error == .badRequest && badID.id == nil, "an invalid id cannot be echoed")
        #expect(numericID.error == .badRequest && numericID.id == nil)
        #expect(unknownMembers.isSuccess, "unknown members are ignored; \\r\\n is a line end")
        #expect(try f.call(.adminList).result(AdminListResult.self).users.isEmpty)
        #expect(try f.store.auditEvents(limit: 100).isEmpty)
        try await daemon.stop()
    }
}
