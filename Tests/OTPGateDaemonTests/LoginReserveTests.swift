import Foundation
import OTPGateProtocol
import OTPGateTestSupport
import Testing

extension Floods {
    /// Issue 13 item 7: no mix of local users can take every connection slot and so deny
    /// logins (every PAM login connects as root). On main, 64 idle connections from each
    /// of 17 uids, or 10,000 from root, filled the 1,024 slots and every login got
    /// PAM_AUTHINFO_UNAVAIL; renewing them before the idle timeout kept it so.
    @Suite(.serialized)
    struct LoginReserveTests {
        /// Small numbers, so the slots fill quickly: 32 in all, 8 of them for root only,
        /// 6 per unprivileged uid.
        static let config = """
            [server]
            max_connections = 32
            reserved_connections = 8
            max_connections_per_uid = 6
            idle_timeout = 2
            """

        @Test func loginsGetThroughSlotsFilledByOtherUsersAndByIdleRootConnections() throws {
            let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode(Self.config))
            let admin = try daemon.connectAdmin()
            let token = try admin.enroll(user: "root", kind: .hotp)

            // Five uids, each trying for 6 connections and renewing every one the daemon
            // closes or refuses 50 ms later: 30 wanted, 24 unprivileged slots.
            var users: [ThrowawayUser] = []
            defer { for u in users { u.remove() } }
            var holders: [LoadClients] = []
            for _ in 0..<5 {
                let user = try ThrowawayUser()
                users.append(user)
                holders.append(try LoadClients(["hold", "6", "0.05"], path: daemon.socketPath, seconds: 60, as: user))
            }
            for h in holders { _ = try h.report() }
            // And root: 40 idle connections, more than all the slots, each renewed a second
            // after the daemon closes it. (Root reconnecting in a tight loop can keep every
            // slot younger than the one second a fresh connection is spared for: root can
            // stop the daemon anyway.)
            let rootHolder = try LoadClients(["hold", "40", "1"], path: daemon.socketPath, seconds: 60)
            _ = try rootHolder.report()
            // Connections younger than a second are not taken (a login that has just
            // connected is about to send its request): let the holders' connections age.
            usleep(1_500_000)

            // Logins, through the renewals (idle_timeout = 2 s: some renew mid-way).
            var counter: UInt64 = token.confirmedCounter
            var outcomes: [String] = []
            for _ in 0..<8 {
                counter += 1
                let client = try daemon.connect()
                let reply = try client.call("verify", ["user": "root", "code": token.code(counter), "service": "sshd"], timeout: .seconds(5))
                outcomes.append(reply.isSuccess ? "ok" : reply.text)
                usleep(400_000)
            }
            let reports = try holders.map { try $0.finish() }
            let root = try rootHolder.finish()
            print("login reserve: verifies \(outcomes); unprivileged holders \(reports); root holder \(root)")
            #expect(outcomes.allSatisfy { $0 == "ok" }, "\(outcomes)")

            // Controls: the slots were really full. Unprivileged connections were refused
            // (the shared slots were taken), and root's own idle ones were closed to make
            // room for the logins (every slot was taken).
            let refused = reports.reduce(0) { $0 + ($1["refused"] as? Int ?? 0) }
            #expect(refused > 0, "no unprivileged connection was refused: the slots never filled")
            #expect((root["closed"] as? Int ?? 0) + (root["refused"] as? Int ?? 0) > 0, "root's idle connections never gave way: \(root)")
            #expect(daemon.stop() == 0)
            #expect(daemon.log.contains("connections.evicted"))
        }

        @Test func aUserWithFewConnectionsTakesRoomFromTheBiggestHolder() throws {
            // The holders' connections must stay idle (not closed and renewed, which
            // would make them too young to take) for the whole test, on a loaded machine
            // too: a long idle timeout here.
            let daemon = try DaemonProcess(config: Self.config.replacingOccurrences(of: "idle_timeout = 2", with: "idle_timeout = 60"))
            var users: [ThrowawayUser] = []
            defer { for u in users { u.remove() } }
            // Four uids with 6 each fill the 24 unprivileged slots.
            var holders: [LoadClients] = []
            for _ in 0..<4 {
                let user = try ThrowawayUser()
                users.append(user)
                holders.append(try LoadClients(["hold", "6"], path: daemon.socketPath, seconds: 60, as: user))
            }
            for h in holders { _ = try h.report() }
            // Connections younger than a second are not taken: let them age.
            usleep(1_500_000)
            // A fifth uid, with none, still gets a connection that answers.
            let late = try ThrowawayUser()
            users.append(late)
            let client = try UserClient(user: late, socketPath: daemon.socketPath)
            let reply = try client.call("health", timeout: .seconds(5))
            daemon.expectOK(reply)
            let reports = try holders.map { try $0.finish() }
            print("fair admission: holders \(reports)")
            #expect(daemon.stop() == 0)
        }
    }
}
