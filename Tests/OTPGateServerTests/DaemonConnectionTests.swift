import Foundation
import Glibc
import OTPGateProtocol
@testable import OTPGateServer
import Testing

/// Connections as clients misbehave, through the in-process daemon's real sockets:
/// gone mid-line, gone before the reply, half-closed after the last request. The
/// request held in the handler (RequestGate) makes "gone before the reply" certain,
/// where a process test can only say the request may or may not have been served.
@Suite("Daemon connections")
struct DaemonConnectionTests {
    @Test func clientsThatGoAwayMidRequestDisturbNoOne() async throws {
        let f = try HandlerFixture()
        let token = try f.enroll("alice")
        f.clock.advance(seconds: 30)
        // One worker: the abandoned verify finishes before the next one starts.
        let daemon = try await InProcessDaemon.start(f, workers: 1)

        // Half a line, then gone.
        try await blocking {
            let half = try LineSocket(path: f.config.socketPath)
            try half.send(#"{"v":1,"op":"verify","user":"al"#)
        }
        // A whole request, then gone while it is in the handler: it is still served
        // and committed, and the failed write of its reply harms nothing.
        f.gate.arm()
        try await blocking {
            let gone = try LineSocket(path: f.config.adminSocketPath)
            try gone.send(Request(payload: .verify(VerifyRequest(user: "alice", code: token.code()))).line)
            guard f.gate.waitUntilHeld() else { throw DaemonError("the verify never reached the handler") }
        }
        f.gate.release()
        let (again, next, health) = try await blocking {
            let c = try LineSocket(path: f.config.adminSocketPath)
            let again = try c.call(Request(payload: .verify(VerifyRequest(user: "alice", code: token.code()))))
            f.clock.advance(seconds: 30)
            let next = try c.call(Request(payload: .verify(VerifyRequest(user: "alice", code: token.code()))))
            return (again, next, try LineSocket(path: f.config.socketPath).call(Request(payload: .health)))
        }
        #expect(again.error == .replayedCode, "the abandoned request was not served: \(again)")
        #expect(next.isSuccess)
        #expect(health.isSuccess)
        try await daemon.stop()
    }

    /// What socat does: send the requests, shut down the writing side, read. Every
    /// reply still comes, then the daemon closes.
    @Test func aHalfClosedClientGetsEveryReplyThenTheClose() async throws {
        let f = try HandlerFixture()
        let daemon = try await InProcessDaemon.start(f)
        let (ids, end) = try await blocking {
            let c = try LineSocket(path: f.config.socketPath)
            try c.send(Request(id: "1", payload: .health).line + Request(id: "2", payload: .status(StatusRequest(user: "root"))).line)
            shutdown(c.fd, Int32(SHUT_WR))
            let ids = try (1...2).map { _ in try c.readLine().map { try Reply.parse(line: Array($0.utf8)).id } }
            return (ids, try c.readLine())
        }
        #expect(ids == ["1", "2"])
        #expect(end == nil)
        try await daemon.stop()
    }
}
