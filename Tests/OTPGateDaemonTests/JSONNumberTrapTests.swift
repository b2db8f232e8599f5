import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// A request line whose number made JSONDecoder stop the process (a trap in its
/// Decimal slow path), so that one line from any local user stopped otpgated before
/// the protocol's own JSON reader replaced it. Now it gets an answer like any other
/// line and the daemon serves on.
@Suite("otpgated numbers the old JSON path trapped on", .ownThreads)
struct JSONNumberTrapTests {
    static let number = "0." + String(repeating: "0", count: 150) + "9007199254740993e166"

    @Test func aNumberThatStoppedJSONDecoderIsAnsweredAndTheDaemonServesOn() throws {
        let daemon = try DaemonProcess()
        let cases: [(String, String, String?)] = [
            ("in a field the op ignores", #"{"v":1,"id":"t","op":"health","x":"# + Self.number + "}", nil),
            ("as the version", #"{"v":"# + Self.number + #","id":"t","op":"health"}"#, "unsupported_version"),
            ("as a code", #"{"v":1,"id":"t","op":"verify","user":"nobody","code":"# + Self.number + "}", "bad_request"),
        ]
        for (what, line, error) in cases {
            let client = try daemon.connect()
            try client.send(Array((line + "\n").utf8))
            let reply = try client.readReply()
            if let error {
                #expect(reply.error == error, "\(what): \(reply.text)")
            } else {
                daemon.expectOK(reply)
            }
            daemon.expectServing()
        }
    }
}
