import Foundation
import Glibc
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Slow and many clients against the real process: the idle timeout on the real
/// clock, and a thousand idle connections counted in the daemon's descriptors.
/// Malformed lines and requests, pipelining and clients gone mid-request are tested
/// in-process through the same pipeline (DaemonBadInputTests, DaemonConnectionTests,
/// DaemonServiceGroupTests).
@Suite("otpgated bad input", .ownThreads)
struct BadInputTests {
    static let shortIdle = """
        [server]
        idle_timeout = 1
        """

    @Test func stalledHalfLineIsClosedAfterTheIdleTimeout() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let stalled = try daemon.connect()
        try stalled.send(Array(#"{"v":1,"op":"hea"#.utf8))
        let sent = ContinuousClock.now
        // Meanwhile another client is served, while the stalled one is still open.
        let other = try daemon.connect()
        daemon.expectOK(try other.call("health"))
        #expect(stalled.readLine(timeout: .zero) == .timedOut || ContinuousClock.now - sent > .milliseconds(900))
        #expect(stalled.closesWithoutReply(within: .seconds(4)), "closed without a reply")
        let waited = ContinuousClock.now - sent
        #expect(waited >= .milliseconds(800) && waited < .seconds(3), "closed after about idle_timeout = 1 s, not \(waited)")
        daemon.expectServing()
    }

    /// PROTOCOL.md: "A connection with no complete request for a while is closed".
    /// A client that sends one byte now and then, never finishing a line, must not
    /// hold its connection (and a slot of max_connections) for ever.
    @Test func dribblingClientIsClosedAfterTheIdleTimeout() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let slow = try daemon.connect()
        var closed = false
        for byte in Array(#"{"v":1,"op":"h"#.utf8) where !closed {
            if (try? slow.send([byte])) == nil { closed = true; break }
            if slow.readLine(timeout: .milliseconds(300)) == .closed { closed = true }
        }
        #expect(closed, "after 4 s of one byte every 0.3 s, with idle_timeout = 1 s, the connection is still open")
    }

    @Test func aThousandIdleConnectionsDoNotStopService() throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(4096, limit.rlim_max)
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let baseline = daemon.openDescriptors

        var idle: [SocketClient] = []
        for _ in 0..<1000 { idle.append(try daemon.connect()) }
        // Wait until the daemon has accepted them all (each is one descriptor there).
        var accepted = false
        for _ in 0..<250 where !accepted {
            accepted = daemon.openDescriptors >= baseline + 1000
            if !accepted { usleep(20_000) }
        }
        #expect(accepted, "the daemon holds \(daemon.openDescriptors - baseline) of 1000 connections")

        let fresh = try daemon.connect()
        daemon.expectOK(try fresh.call("health"))
        daemon.expectOK(try fresh.call("verify", ["user": "alice", "code": token.code(1)]))
        // The idle ones still work too.
        daemon.expectOK(try idle[0].call("health"))
        daemon.expectOK(try idle[999].call("health"))

        for client in idle { client.close() }
        // And they are released.
        var released = false
        for _ in 0..<250 where !released {
            released = daemon.openDescriptors <= baseline + 5
            if !released { usleep(20_000) }
        }
        #expect(released, "\(daemon.openDescriptors - baseline) descriptors still open after the clients left")
        daemon.expectServing()
    }
}
