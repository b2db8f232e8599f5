import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import OTPGateProtocol
@testable import OTPGateServer
import ServiceLifecycle
import Synchronization
import Testing

/// The daemon in-process under a ServiceGroup, as otpgated runs it (the daemon, then
/// its housekeeping), on real sockets in a temporary directory: a request through
/// the socket, then graceful shutdown with one request in flight.
@Suite("Daemon under a ServiceGroup")
struct DaemonServiceGroupTests {
    @Test func servesThroughTheSocketAndShutsDownGracefullyWithARequestInFlight() async throws {
        let f = try HandlerFixture()
        let token = try f.enroll("alice")
        f.clock.advance(seconds: 30)
        let code = token.code()
        let running = try await InProcessDaemon.start(f)

        // Served through the real socket: the pipeline, peer credentials, a worker.
        let (idle, busy, health) = try await blocking {
            let idle = try LineSocket(path: f.config.socketPath)
            let health = try idle.call(Request(id: "h", payload: .health))
            return (idle, try LineSocket(path: f.config.adminSocketPath), health)
        }
        #expect(health.id == "h")
        #expect(try health.result(HealthResult.self).store == "ok")
        #expect(try await blocking { try busy.call(Request(payload: .status(StatusRequest(user: "alice")))) }.isSuccess)
        // Health answers on the admin socket too.
        let adminHealth = try await blocking { try busy.call(Request(id: "a", payload: .health)) }
        #expect(adminHealth.id == "a")
        #expect(try adminHealth.result(HealthResult.self).store == "ok")
        #expect(try adminHealth.result(HealthResult.self).version.split(separator: ".").count == 3)

        // One verify held inside the handler: in flight when shutdown begins.
        f.gate.arm()
        try busy.send(Request(id: "v", payload: .verify(VerifyRequest(user: "alice", code: code))).line)
        #expect(try await blocking { f.gate.waitUntilHeld() }, "the verify never reached the handler")

        await running.triggerGracefulShutdown()
        // The idle connection is closed at once; the listeners were closed before it
        // (same event loop, in that order), and NIO unlinks a listener's socket file
        // as it closes it: no one can connect any more.
        #expect(try await blocking { try idle.readLine() } == nil, "the idle connection was not closed")
        #expect(running.stopping.isSet, "onStopping was not called")
        #expect(LineSocket.connectError(path: f.config.socketPath) == ENOENT)
        #expect(LineSocket.connectError(path: f.config.adminSocketPath) == ENOENT)

        // The request in flight finishes, is answered, committed, then its connection closes.
        f.gate.release()
        let reply = try await blocking { try busy.readLine() }
        let verdict = try Reply.parse(line: Array(try #require(reply).utf8))
        #expect(verdict.id == "v")
        #expect(try verdict.result(VerifyResult.self).factor == .totp)
        #expect(try await blocking { try busy.readLine() } == nil, "the busy connection stayed open after its reply")

        try await running.finished()
        #expect(!FileManager.default.fileExists(atPath: f.config.socketPath), "the public socket file is left")
        #expect(!FileManager.default.fileExists(atPath: f.config.adminSocketPath), "the admin socket file is left")
        #expect(LineSocket.connectError(path: f.config.socketPath) == ENOENT)
        #expect(try f.auditEvents("alice").last == "verify.ok")
        #expect(f.log.text.contains("otpgated stopped"))
            }

    /// When systemd asks for a watchdog (WATCHDOG_USEC, for this process), the
    /// watchdog service pings it every half of that, once the daemon serves; the
    /// pings stop with the group. READY=1 and STOPPING=1 are otpgated's callbacks
    /// (see SocketActivationTests).
    @Test func theWatchdogPingsWhileServing() async throws {
        let f = try HandlerFixture()
        let notify = try NotifySocket(path: f.dir.file("notify"))
        let running = try await InProcessDaemon.start(
            f, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "\(getpid())"])
        let pings = try await blocking { (0..<3).map { _ in notify.receive(timeout: .seconds(10)) } }
        #expect(pings == ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"])
        await running.triggerGracefulShutdown()
        try await running.finished()
            }

    @Test func theWatchdogIntervalIsHalfOfWhatSystemdAsksThisProcessFor() {
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "400000"]) == .milliseconds(200))
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "\(getpid())"]) == .milliseconds(200))
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"]) == nil, "another process's")
        #expect(SystemdNotify.watchdogInterval(environment: ["WATCHDOG_USEC": "0"]) == nil)
        #expect(SystemdNotify.watchdogInterval(environment: [:]) == nil)
    }

    /// Bad framing through the real pipeline: an over-long line is answered with
    /// `bad_request` and the connection closes; pipelined requests are answered in
    /// order; a shutdown with nothing in flight ends at once.
    @Test func framingAndPipeliningThroughTheRealPipeline() async throws {
        let f = try HandlerFixture()
        let running = try await InProcessDaemon.start(f)

        let (ids, refused, afterRefusal) = try await blocking {
            let c = try LineSocket(path: f.config.socketPath)
            // Twenty pipelined requests, verifies of a user without a token between
            // statuses: answered in order, each with its own outcome.
            try c.send((1...20).map { n in
                Request(id: "\(n)", payload: n % 2 == 0 ? .status(StatusRequest(user: "root")) : .verify(VerifyRequest(user: "nosuchuser", code: "123456"))).line
            }.joined())
            let ids = try (1...20).map { n -> String? in
                let reply = try #require(try c.readLine()).utf8
                let parsed = try Reply.parse(line: Array(reply))
                return n % 2 == 0 ? (parsed.isSuccess ? parsed.id : "failed") : (parsed.error == .notEnrolled ? parsed.id : "wrong error")
            }
            let long = try LineSocket(path: f.config.socketPath)
            try long.send(String(repeating: "x", count: ProtocolLimits.maxRequestLineBytes + 1) + "\n")
            let refused = try long.readLine().map { try Reply.parse(line: Array($0.utf8)) }
            return (ids, refused, try long.readLine())
        }
        #expect(ids == (1...20).map { "\($0)" })
        #expect(refused?.error == .badRequest)
        #expect(afterRefusal == nil, "the connection stayed open after an over-long line")
        await running.triggerGracefulShutdown()
        try await running.finished()
        #expect(!FileManager.default.fileExists(atPath: f.config.socketPath))
            }
}
