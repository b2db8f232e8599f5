import Foundation
import OTPGateProtocol
import Testing

/// Issue 13 item 3: a client that pipelines requests and never reads its replies must
/// not make the daemon grow. On main the daemon read everything it was sent and
/// queued every reply: 36 -> 423 MB in 120 s (release build).
@Suite(.serialized)
struct BackPressureTests {
    @Test func aClientThatNeverReadsIsNoLongerReadAndCostsBoundedMemory() throws {
        let daemon = try DaemonProcess()
        let user = try ThrowawayUser()
        defer { user.remove() }
        let before = daemon.residentKiB

        // Up to 20 s of sending; with back-pressure the sends block within a second or two.
        let flood = try LoadClients(["pipeline"], path: daemon.socketPath, seconds: 20, as: user)
        let sent = try flood.report()
        let during = daemon.residentKiB
        // Logins still work while that connection is stuck.
        daemon.expectOK(try daemon.connect().call("health", timeout: .seconds(5)))

        let stalled = sent["stalled"] as? Bool ?? false
        let lines = sent["sent_lines"] as? Int ?? 0
        let growth = during - before
        print("back-pressure: sent \(lines) lines (\(sent["sent_bytes"] ?? 0) bytes), stalled \(stalled); RSS \(before) -> \(during) KiB")
        // The control of this test is the send itself: without back-pressure the daemon
        // reads whatever it is sent and the sender never blocks.
        #expect(stalled, "the daemon kept reading from a client that reads nothing: \(sent)")
        #expect(lines < 200_000, "the daemon took \(lines) requests from a client that reads nothing")
        #expect(growth < 24 * 1024, "RSS grew by \(growth) KiB for one connection that reads nothing")

        // Once the client reads, every request it sent is answered, in full.
        let end = try flood.finish()
        #expect(end["replies"] as? Int == lines, "replies \(end) for \(lines) complete requests")
        #expect(end["ok"] as? Int == lines)
        #expect(daemon.stop() == 0)
    }
}
