import Foundation
import OTPCore
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// The operations' failures that need the real process: a store the daemon cannot
/// write (chattr +i) and connections refused over max_connections across uids. The
/// operations themselves, their results and errors, are tested in-process on an
/// injected clock (Tests/OTPGateServerTests, RequestHandler*Tests).
@Suite("otpgated operations", .ownThreads)
struct OperationTests {
    /// `unavailable` when the store cannot be written (the WAL made immutable, which
    /// stops even root): fail closed, and the code is not used up.
    @Test(.enabled(if: geteuid() == 0, "chattr +i needs root"))
    func unavailableWhenTheStoreCannotBeWritten() throws {
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wal = daemon.storePath + "-wal"
        guard FileManager.default.fileExists(atPath: wal), try Command.run("/usr/bin/chattr", ["+i", wal]).status == 0 else {
            try Test.cancel("this file system does not support the immutable attribute")
        }
        defer { _ = try? Command.run("/usr/bin/chattr", ["-i", wal]) }
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.wrongCode(avoiding: 0...20)]), .unavailable)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .unavailable)
        // health still answers, so monitoring can look at it.
        daemon.expectOK(try admin.call("health"))
        try Command.check("/usr/bin/chattr", ["-i", wal])
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(1)]))
        #expect(daemon.allLogs.contains("store fault"))
    }

    /// `unavailable` also when the daemon refuses a connection over `max_connections`.
    /// (A root connection would take the place of an idle one instead: LoginReserveTests.)
    @Test(.enabled(if: geteuid() == 0, "needs root to create a user"))
    func unavailableWhenConnectionsAreExhausted() throws {
        let daemon = try DaemonProcess(config: """
            [server]
            max_connections = 3
            reserved_connections = 0
            """)
        let user = try ThrowawayUser()
        defer { user.remove() }
        // Readiness came by sd_notify, so no probe connection holds a slot: three are admitted.
        var open: [UserClient] = []
        for _ in 0..<3 {
            let client = try UserClient(user: user, socketPath: daemon.socketPath)
            daemon.expectOK(try client.call("health"))
            open.append(client)
        }
        // socat -t 0.2: it passes the daemon's close on 0.2 s after it saw it (and
        // never, if the daemon kept the connection open).
        let extra = try UserClient(user: user, socketPath: daemon.socketPath, closeWait: "0.2")
        daemon.expectError(try extra.readReply(), .unavailable)
        #expect(extra.closesWithoutReply(within: .seconds(8)))
        open.removeLast().finish()
        // The freed slot is given back once the daemon has seen the close, which nothing
        // tells the test: a new connection is tried until one is served (each try is a
        // setpriv and socat start, no sleep between), for at most 20 s.
        let deadline = ContinuousClock.now + .seconds(20)
        var served = false
        while !served && ContinuousClock.now < deadline {
            served = (try? UserClient(user: user, socketPath: daemon.socketPath).call("health"))?.isSuccess == true
        }
        #expect(served, daemon.diagnostics())
    }
}
