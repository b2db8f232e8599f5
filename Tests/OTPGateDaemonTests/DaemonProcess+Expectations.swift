import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Reply checks that, when they fail, show the reply and the end of the daemon's
/// stderr, so a failure on CI can be understood without rerunning it.
extension DaemonProcess {
    /// The last lines of the daemon's stderr, as a comment for a failed expectation.
    func diagnostics(_ reply: Reply? = nil) -> Comment {
        let tail = allLogs.split(separator: "\n").suffix(25).joined(separator: "\n")
        return Comment(rawValue: (reply.map { "reply: \($0.text)\n" } ?? "") + "otpgated stderr (tail):\n" + tail)
    }

    /// Expects a success and returns it.
    @discardableResult
    func expectOK(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) -> Reply {
        #expect(reply.isSuccess, diagnostics(reply), sourceLocation: sourceLocation)
        return reply
    }

    /// Expects a failure with exactly `code`.
    @discardableResult
    func expectError(_ reply: Reply, _ code: WireErrorCode, sourceLocation: SourceLocation = #_sourceLocation) -> Reply {
        #expect(reply.error == code.rawValue, diagnostics(reply), sourceLocation: sourceLocation)
        return reply
    }

    /// Expects `health` to answer on a new connection: the daemon still serves.
    func expectServing(sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let reply = try connect().call("health", id: "alive", timeout: .seconds(5))
            #expect(reply.isSuccess && reply.id == "alive", diagnostics(reply), sourceLocation: sourceLocation)
        } catch {
            Issue.record(error, diagnostics(), sourceLocation: sourceLocation)
        }
    }
}
