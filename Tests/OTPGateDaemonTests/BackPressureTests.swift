import Foundation
import OTPGateProtocol
import OTPGateTestSupport
import Testing

extension Floods {
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

            // 4 s of sending whenever the socket takes more. Without back-pressure the
            // daemon reads (and queues replies) as fast as it can answer: on the debug
            // build before it that was 3,000-5,000 lines a second here; with it, the
            // daemon stops reading after 2,816 lines (the socket buffers' worth), however
            // long the client goes on. The bound below is crossed by a daemon that keeps
            // reading at 1,500 lines a second, a third of the slowest rate measured.
            let flood = try LoadClients(["pipeline", "keep"], path: daemon.socketPath, seconds: 4, as: user)
            let sent = try flood.report()
            let during = daemon.residentKiB
            // Logins still work while that connection is stuck.
            daemon.expectOK(try daemon.connect().call("health", timeout: .seconds(5)))

            let lines = sent["sent_lines"] as? Int ?? 0
            let growth = during - before
            print("back-pressure: sent \(lines) lines (\(sent["sent_bytes"] ?? 0) bytes) in 4 s; RSS \(before) -> \(during) KiB")
            // What the kernel's socket buffers hold, and the daemon's bounded share: a few
            // thousand lines, however long the client goes on.
            #expect(lines < 6_000, "the daemon took \(lines) requests from a client that reads nothing")
            #expect(growth < 16 * 1024, "RSS grew by \(growth) KiB for one connection that reads nothing")

            // Once the client reads, every request it sent is answered, in full.
            let end = try flood.finish()
            #expect(end["replies"] as? Int == lines, "replies \(end) for \(lines) complete requests")
            #expect(end["ok"] as? Int == lines)
            #expect(daemon.stop() == 0)
        }
    }
}
