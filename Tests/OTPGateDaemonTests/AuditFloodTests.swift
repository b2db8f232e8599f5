import Foundation
import OTPGateProtocol
import OTPGateTestSupport
import Testing

extension Floods {
    /// Issue 13 item 8: what one unprivileged caller can make the daemon write is bounded,
    /// and logins keep working under a flood. On main every refused request was an
    /// fsynced audit row (17,458 rows/s from one uid), and a refusal or `health` flood on
    /// 32-64 connections made PAM logins time out on the debug build.
    @Suite(.serialized)
    struct AuditFloodTests {
        static let config = """
            [audit]
            refusal_window = 2
            """

        /// Root verifies with fresh codes while `flood` runs: `count` of them, and more
        /// (up to 50 in all) until the flood says it has had its `GOAL` replies, so that
        /// on a loaded machine the logins still run under a real flood. Returns each
        /// one's outcome and the slowest in milliseconds.
        func logins(
            _ daemon: DaemonProcess, _ token: EnrolledToken, counter: inout UInt64, count: Int, during flood: LoadClients
        ) throws -> (outcomes: [String], slowestMS: Int) {
            var outcomes: [String] = []
            var slowest = Duration.zero
            var flooded = false
            while outcomes.count < count || (!flooded && outcomes.count < 50) {
                if !flooded, flood.nextReport(timeout: .zero)?["replies_reached"] != nil { flooded = true }
                counter += 1
                let started = ContinuousClock.now
                let client = try daemon.connect()
                let reply = try client.call("verify", ["user": "root", "code": token.code(counter), "service": "sshd"], timeout: .seconds(5))
                slowest = max(slowest, ContinuousClock.now - started)
                outcomes.append(reply.isSuccess ? "ok" : reply.text)
                usleep(50_000)
            }
            return (outcomes, Int(slowest.components.seconds * 1000 + slowest.components.attoseconds / 1_000_000_000_000_000))
        }

        @Test func aRefusalFloodCostsAFewAuditRowsWithTheCountAndLoginsGoOn() throws {
            let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode(Self.config))
            let token = try daemon.connectAdmin().enroll(user: "root", kind: .hotp)
            var counter = token.confirmedCounter
            let user = try ThrowawayUser()
            defer { user.remove() }

            // 32 connections asking for admin.list on the public socket: each one forbidden.
            let flood = try LoadClients(["flood", "32", #"{"v":1,"op":"admin.list"}"#, "600"], path: daemon.socketPath, seconds: 60, as: user)
            _ = try flood.report()
            let (outcomes, slowest) = try logins(daemon, token, counter: &counter, count: 10, during: flood)
            let report = try flood.finish()
            let counts = report["counts"] as? [String: Int] ?? [:]
            let forbidden = counts["forbidden"] ?? 0

            // Every count is written by the time the daemon has stopped.
            #expect(daemon.stop() == 0)
            try daemon.start()
            let events = try daemon.connectAdmin().call("admin.audit", ["limit": 10000]).array("events") ?? []
            let mine = events.filter { $0["peer_uid"]?.intValue == Int64(user.uid) }
            let full = mine.filter { $0["event"]?.stringValue == "forbidden" }.count
            let repeated = mine.filter { $0["event"]?.stringValue == "forbidden.repeated" }
            let counted = repeated.compactMap { $0["detail"]?.stringValue?.split(separator: " ").first.flatMap { Int($0) } }.reduce(0, +)
            print("refusal flood: \(forbidden) refused requests -> \(full) forbidden rows + \(repeated.count) forbidden.repeated rows; logins \(outcomes), slowest \(slowest) ms")

            #expect(outcomes.allSatisfy { $0 == "ok" }, "\(outcomes)")
            // The control: the flood really was one (on main each of these was a row).
            #expect(forbidden > 500, "the flood got only \(counts)")
            // At most two rows per 2 s window over a run of a few seconds.
            #expect(full + repeated.count <= 30, "\(full) + \(repeated.count) rows for \(forbidden) refusals")
            // Nothing is lost: every refusal is a row or part of a count (the daemon may
            // have refused one more per connection than the flood read replies for).
            #expect((forbidden...forbidden + 32).contains(full + counted), "rows \(full) + counted \(counted) for \(forbidden) refusals")
            #expect(daemon.stop() == 0)
        }

        @Test func loginsGoOnUnderAHealthFloodOn64Connections() throws {
            let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode())
            let token = try daemon.connectAdmin().enroll(user: "root", kind: .hotp)
            var counter = token.confirmedCounter
            let user = try ThrowawayUser()
            defer { user.remove() }
            let flood = try LoadClients(["flood", "64", #"{"v":1,"op":"health"}"#, "600"], path: daemon.socketPath, seconds: 60, as: user)
            _ = try flood.report()
            let (outcomes, slowest) = try logins(daemon, token, counter: &counter, count: 10, during: flood)
            let report = try flood.finish()
            let served = (report["counts"] as? [String: Int])?["ok"] ?? 0
            print("health flood: \(served) health replies to 64 connections; logins \(outcomes), slowest \(slowest) ms")
            #expect(outcomes.allSatisfy { $0 == "ok" }, "\(outcomes)")
            #expect(served > 500, "the flood got only \(report)")
            #expect(daemon.stop() == 0)
        }

        @Test func oneUnprivilegedUIDCannotWriteFasterThanItsBudget() throws {
            let daemon = try DaemonProcess(config: """
                [server]
                uid_write_rate = 1
                uid_write_burst = 10
                """)
            let user = try ThrowawayUser()
            defer { user.remove() }
            let client = try UserClient(user: user, socketPath: daemon.socketPath)
            // verify of its own (unenrolled) user: on main each was an audited commit.
            var codes: [String] = []
            let started = ContinuousClock.now
            for _ in 0..<40 {
                let reply = try client.call("verify", ["user": user.name, "code": "123456"], timeout: .seconds(5))
                codes.append(reply.isSuccess ? "ok" : reply.error ?? "?")
            }
            let elapsed = (ContinuousClock.now - started).components.seconds
            let limited = codes.filter { $0 == "rate_limited" }.count
            print("write budget: \(codes.count - limited) of 40 verifies served in \(elapsed) s, \(limited) rate_limited")
            // 10 at once, then 1 a second: however slow the machine, no more than that.
            #expect(codes.prefix(10).allSatisfy { $0 == "not_enrolled" }, "\(codes)")
            #expect(40 - limited <= 11 + Int(elapsed), "\(codes)")
            #expect(limited > 0, "40 requests took \(elapsed) s: the budget was never reached")
            // Health and status are reads: not limited.
            daemon.expectOK(try client.call("health"))
            // Root is never limited by it.
            for _ in 0..<20 {
                daemon.expectError(try daemon.connect().call("verify", ["user": user.name, "code": "123456"]), .notEnrolled)
            }
            #expect(daemon.stop() == 0)
        }
    }
}
