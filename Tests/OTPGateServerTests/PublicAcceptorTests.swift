import Foundation
import Glibc
import OTPGateProtocol
@testable import OTPGateServer
import Testing

/// The public socket's blocking acceptors (PublicAcceptor): a root caller's first
/// request is served on an acceptor thread, everything else on the event loop. Which
/// path served a request shows in the connection registry, which only the event loop's
/// connections enter: a request held in the handler (RequestGate) with no connection
/// registered was served by an acceptor.
@Suite("Public acceptors")
struct PublicAcceptorTests {
    @Test func aFirstRequestIsServedByAnAcceptorAndTheNextOnTheEventLoop() async throws {
        let f = try HandlerFixture()
        let token = try f.enroll("alice")
        f.clock.advance(seconds: 30)
        let running = try await InProcessDaemon.start(f)
        let registry = running.daemon.registry

        // Connected and sent at once, well within the acceptor's window.
        let first = Request(id: "1", payload: .verify(VerifyRequest(user: "alice", code: token.code()))).line
        f.gate.arm()
        let c = try await blocking { () throws -> LineSocket in
            let c = try LineSocket(path: f.config.socketPath)
            try c.send(first)
            return c
        }
        #expect(try await blocking { f.gate.waitUntilHeld() }, "the first verify never reached the handler")
        #expect(registry.count == 0, "the first request went to the event loop")
        f.gate.release()
        let reply = try await blocking { try c.readReply() }
        #expect(reply.id == "1" && reply.isSuccess, "\(reply)")

        // Control: the same connection's second request, on the event loop.
        f.clock.advance(seconds: 30)
        f.gate.arm()
        try c.send(Request(id: "2", payload: .verify(VerifyRequest(user: "alice", code: token.code()))).line)
        #expect(try await blocking { f.gate.waitUntilHeld() }, "the second verify never reached the handler")
        #expect(registry.count == 1, "the second request was not served on the event loop")
        f.gate.release()
        let second = try await blocking { try c.readReply() }
        #expect(second.id == "2" && second.isSuccess, "\(second)")
        try await running.stop()
    }

    /// Root clients that connect and say nothing hold an acceptor for its short window
    /// only: a login behind more of them than there are acceptors is answered, and each
    /// of them is answered too when it speaks at last (on the event loop).
    @Test func silentRootConnectionsDoNotHoldTheAcceptors() async throws {
        let f = try HandlerFixture { $0.publicAcceptors = 2 }
        let running = try await InProcessDaemon.start(f)
        let silent = try await blocking { try (0..<6).map { _ in try LineSocket(path: f.config.socketPath) } }
        let health = try await blocking { try LineSocket(path: f.config.socketPath).call(Request(id: "h", payload: .health)) }
        #expect(health.id == "h" && health.isSuccess)
        for (i, c) in silent.enumerated() {
            let reply = try await blocking { try c.call(Request(id: "\(i)", payload: .health)) }
            #expect(reply.id == "\(i)" && reply.isSuccess)
        }
        #expect(running.daemon.registry.count >= 6, "the silent connections were not handed to the event loop")
        try await running.stop()
    }

    /// A first line that comes in pieces (slower than the window) is left on the socket
    /// for the event loop, which reads it whole: nothing is lost or read twice.
    @Test func aLineInPiecesIsServedWholeOnTheEventLoop() async throws {
        let f = try HandlerFixture { $0.publicAcceptors = 1 }
        let running = try await InProcessDaemon.start(f)
        let registry = running.daemon.registry
        let line = Request(id: "p", payload: .health).line
        let reply = try await blocking { () throws -> Reply in
            let c = try LineSocket(path: f.config.socketPath)
            try c.send(String(line.prefix(10)))
            // Told, not slept for: the acceptor gave the connection up.
            let deadline = ContinuousClock.now + .seconds(20)
            while registry.count == 0 && ContinuousClock.now < deadline { usleep(1000) }
            try c.send(String(line.dropFirst(10)))
            return try c.readReply()
        }
        #expect(reply.id == "p" && reply.isSuccess, "\(reply)")
        try await running.stop()
    }

    /// Other uids never reach an acceptor's request path; with no acceptors at all the
    /// public socket is the event loop's, as before.
    @Test func withNoAcceptorsTheEventLoopServesThePublicSocket() async throws {
        let f = try HandlerFixture { $0.publicAcceptors = 0 }
        let token = try f.enroll("alice")
        f.clock.advance(seconds: 30)
        let running = try await InProcessDaemon.start(f)
        let c = try await blocking { try LineSocket(path: f.config.socketPath) }
        f.gate.arm()
        try c.send(Request(payload: .verify(VerifyRequest(user: "alice", code: token.code()))).line)
        #expect(try await blocking { f.gate.waitUntilHeld() })
        #expect(running.daemon.registry.count == 1)
        f.gate.release()
        #expect(try await blocking { try c.readReply() }.isSuccess)
        try await running.stop()
    }
}
