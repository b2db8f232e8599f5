import Foundation
import Glibc
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Authorization by peer credentials, with a real second uid: a throwaway system
/// user, whose requests are made by socat run under setpriv.
@Suite("otpgated authorization across uids", .enabled(if: geteuid() == 0, "needs root to create a user and switch to it"), .ownThreads)
struct AuthorizationTests {
    /// Every refusal its own audit event (the default coalesces them per uid and
    /// minute: AuditFloodTests), so each one can be checked here.
    /// Every refusal a row of its own; one recovery code per first token (a scrypt
    /// run at production cost each, and these tests count refusals, not codes).
    static let everyRefusal = DaemonProcess.oneRecoveryCode("""
        [audit]
        refusal_window = 0
        """)

    static func events(_ daemon: DaemonProcess) throws -> [JSONValue] {
        try daemon.connectAdmin().call("admin.audit", ["limit": 10000]).array("events") ?? []
    }

    @Test func aUserMayEnrolAndVerifyItselfOnlyAndNeverAdminister() throws {
        let user = try ThrowawayUser()
        defer { user.remove() }
        let daemon = try DaemonProcess(config: Self.everyRefusal)

        // The admin socket's mode keeps the user out before the daemon is asked.
        #expect(try user.connectErrno(daemon.adminSocketPath) == EACCES)
        #expect(try user.connectErrno(daemon.socketPath) == 0)

        let client = try UserClient(user: user, socketPath: daemon.socketPath)
        daemon.expectOK(try client.call("health"))
        // Self-service: enrol, confirm, verify, status.
        let token = try client.enroll(user: user.name)
        #expect(token.recoveryCodes.count == 1)
        let ok = daemon.expectOK(try client.call("verify", ["user": user.name, "code": token.code(1)]))
        #expect(ok.string("factor") == "hotp")
        #expect(daemon.expectOK(try client.call("status", ["user": user.name])).bool("enrolled") == true)
        daemon.expectError(try client.call("verify", ["user": user.name, "code": token.code(1)]), .replayedCode)

        // Anybody else: forbidden, whether that user exists, is enrolled, or not.
        let root = try daemon.connect().enroll(user: "root")
        daemon.expectError(try client.call("status", ["user": "root"]), .forbidden)
        daemon.expectError(try client.call("verify", ["user": "root", "code": root.code(1)]), .forbidden)
        daemon.expectError(try client.call("verify", ["user": "nosuchuser", "code": "123456"]), .forbidden)
        daemon.expectError(try client.call("enroll.begin", ["user": "root"]), .forbidden)
        daemon.expectError(try client.call("token.remove", ["user": "root", "token": root.id, "code": root.code(1)]), .forbidden)
        daemon.expectError(try client.call("recovery.regenerate", ["user": "root", "code": root.code(1)]), .forbidden)
        // Admin operations on the public socket, even about itself.
        daemon.expectError(try client.call("admin.list"), .forbidden)
        daemon.expectError(try client.call("admin.unlock", ["user": user.name]), .forbidden)
        daemon.expectError(try client.call("admin.audit", ["user": user.name]), .forbidden)
        // The refused attempts used nothing up: root's code 1 is still good.
        daemon.expectOK(try daemon.connect().call("verify", ["user": "root", "code": root.code(1)]))
        // Root (a trusted service) may verify the user.
        daemon.expectOK(try daemon.connect().call("verify", ["user": user.name, "code": token.code(2)]))
        client.finish()

        let forbidden = try Self.events(daemon).filter { $0["event"]?.stringValue == "forbidden" }
        let byUser = forbidden.filter { $0["peer_uid"]?.intValue == Int64(user.uid) }
        #expect(byUser.count == 9, "\(forbidden)")
        #expect(byUser.contains { $0["user"]?.stringValue == "root" && $0["detail"]?.stringValue?.contains("status") == true })
        #expect(byUser.contains { $0["detail"]?.stringValue == "admin.list on the public socket" }, "\(byUser)")
    }

    /// With the admin socket opened up by mistake (chmod 666), the daemon itself
    /// still refuses a non-admin, and audits it.
    @Test func theAdminSocketRefusesNonAdminsEvenWhenItsModeIsOpen() throws {
        let user = try ThrowawayUser()
        defer { user.remove() }
        let daemon = try DaemonProcess(config: Self.everyRefusal)
        chmod(daemon.adminSocketPath, 0o666)
        let client = try UserClient(user: user, socketPath: daemon.adminSocketPath)
        daemon.expectError(try client.call("admin.list"), .forbidden)
        daemon.expectError(try client.call("health"), .forbidden)
        daemon.expectError(try client.call("enroll.begin", ["user": user.name]), .forbidden)
        client.finish()
        let refused = try Self.events(daemon).filter {
            $0["event"]?.stringValue == "forbidden" && $0["peer_uid"]?.intValue == Int64(user.uid)
        }
        #expect(refused.count == 3)
        #expect(refused.contains { $0["detail"]?.stringValue == "admin.list on the admin socket" }, "\(refused)")
    }

    /// Group-based rights, from the user's primary group: `verify_group` lets a
    /// service check others (but not change them); `admin_groups` opens the admin
    /// socket; `max_connections_per_uid` caps one user's connections.
    @Test func groupsGrantVerifyAndAdminRights() throws {
        let user = try ThrowawayUser()
        defer { user.remove() }
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode("""
            [access]
            verify_group = "\(user.name)"
            admin_groups = ["\(user.name)"]
            [server]
            max_connections_per_uid = 2
            """))
        let root = try daemon.connect().enroll(user: "root")
        let client = try UserClient(user: user, socketPath: daemon.socketPath)
        daemon.expectOK(try client.call("status", ["user": "root"]))
        daemon.expectOK(try client.call("verify", ["user": "root", "code": root.code(1)]))
        daemon.expectError(try client.call("enroll.begin", ["user": "root"]), .forbidden)
        daemon.expectError(try client.call("recovery.regenerate", ["user": "root", "code": root.code(2)]), .forbidden)

        chmod(daemon.adminSocketPath, 0o666)
        let admin = try UserClient(user: user, socketPath: daemon.adminSocketPath)
        #expect(daemon.expectOK(try admin.call("admin.list")).array("users")?.isEmpty == false)

        // A third connection of the same uid is refused.
        let third = try UserClient(user: user, socketPath: daemon.socketPath)
        daemon.expectError(try third.readReply(), .unavailable)
        third.finish()
        client.finish()
        admin.finish()
    }
}
