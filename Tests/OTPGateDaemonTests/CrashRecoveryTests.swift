import Dispatch
import Foundation
import Glibc
import GRDB
import OTPGateProtocol
import OTPGateTestSupport
import Synchronization
import Testing

/// Durability: what the daemon acknowledged survives SIGKILL; SIGTERM is a clean
/// stop; state (tokens, watermarks, the limiter) persists across restarts.
@Suite("otpgated crash and restart", .ownThreads)
struct CrashRecoveryTests {
    static let generous = """
        [limiter]
        free_per_user = 1000
        lockout_failures = 100
        """

    static func integrityCheck(_ path: String) throws -> String? {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
    }

    /// A stream of verifies on one connection, one HOTP code per token (so each
    /// accepted code is its token's watermark), SIGKILL at a random point while a
    /// request is in flight; after a restart every acknowledged code is a replay.
    @Test func sigkillDuringAStreamOfVerifiesLosesNoAcknowledgedCode() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode(Self.generous))
        let admin = try daemon.connectAdmin()
        // Eight digits: a chance match of one token's code with another's is negligible.
        let tokens = try (0..<40).map { try admin.enroll(user: "alice", name: "t\($0)", digits: 8) }
        admin.close()

        let client = try daemon.connect()
        let killAt = Int.random(in: 12...30)
        var acknowledged: [Int] = []
        var sent: [Int] = []
        for (index, token) in tokens.enumerated() {
            do {
                try client.send("verify", ["user": "alice", "code": token.code(1)])
            } catch {
                break
            }
            sent.append(index)
            if index == killAt {
                usleep(UInt32.random(in: 0...3000))  // land anywhere in the request's handling
                Glibc.kill(daemon.pid, SIGKILL)
            }
            guard case .line(let bytes) = client.readLine(timeout: .seconds(5)) else { break }
            let reply = try Reply.parse(line: bytes)
            guard daemon.expectOK(reply).isSuccess else { break }
            #expect(reply.string("token") == token.name)
            acknowledged.append(index)
        }
        daemon.kill()
        #expect(daemon.wasSignalled)
        #expect(acknowledged.count >= killAt, "every code before the kill was acknowledged")
        #expect(acknowledged.count < tokens.count, "the kill came mid-stream")
        let unacknowledged = Set(sent).subtracting(acknowledged)

        try daemon.start()
        let check = try daemon.connectAdmin()
        for index in acknowledged {
            daemon.expectError(try check.call("verify", ["user": "alice", "code": tokens[index].code(1)]), .replayedCode)
        }
        // The request in flight at the kill either committed or did not.
        for index in unacknowledged {
            let reply = try check.call("verify", ["user": "alice", "code": tokens[index].code(1)])
            #expect(reply.isSuccess || reply.error == "replayed_code", daemon.diagnostics(reply))
        }
        // Tokens the stream never reached are untouched.
        for index in (sent.last ?? 0) + 1..<tokens.count {
            daemon.expectOK(try check.call("verify", ["user": "alice", "code": tokens[index].code(1)]))
        }
        #expect(daemon.stop() == 0, daemon.diagnostics())
        #expect(try Self.integrityCheck(daemon.storePath) == "ok")
    }

    @Test func sigtermExitsZeroClosesConnectionsAndRemovesBothSockets() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode())
        let admin = try daemon.connectAdmin()
        _ = try admin.enroll(user: "alice")
        let idle = try daemon.connect()
        daemon.expectOK(try idle.call("health"))
        let started = ContinuousClock.now
        #expect(daemon.stop() == 0, daemon.diagnostics())
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(idle.closesWithoutReply(within: .seconds(1)))
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        #expect(!FileManager.default.fileExists(atPath: daemon.adminSocketPath))
        #expect(try Self.integrityCheck(daemon.storePath) == "ok")

        // The same directory starts again, with its state.
        try daemon.start()
        let status = daemon.expectOK(try daemon.connectAdmin().call("status", ["user": "alice"]))
        #expect(status.bool("enrolled") == true)
        #expect(daemon.log.contains("created a new master key") == false, "the existing key is used")
    }

    /// SIGTERM while clients keep connecting: connections accepted as the listeners
    /// close must not crash the daemon (a dropped NIOAsyncChannel traps in swift-nio).
    @Test func sigtermWhileClientsConnectExitsCleanly() throws {
        for round in 0..<5 {
            let daemon = try DaemonProcess()
            let stop = Atomic<Bool>(false)
            let connected = Atomic<Int>(0)
            let path = daemon.socketPath
            // Each thread signals once it has connected 20 times, and again when it ends.
            let connecting = DispatchSemaphore(value: 0)
            let ended = DispatchSemaphore(value: 0)
            let threads = (0..<4).map { _ in
                Thread {
                    var mine = 0
                    while !stop.load(ordering: .relaxed) {
                        if let c = try? SocketClient(path: path) {
                            _ = try? c.send(Array("{\"v\":1,\"op\":\"health\"}\n".utf8))
                            connected.add(1, ordering: .relaxed)
                            mine += 1
                            if mine == 20 { connecting.signal() }
                        }
                    }
                    if mine < 20 { connecting.signal() }
                    ended.signal()
                }
            }
            threads.forEach { $0.start() }
            // SIGTERM once every thread is connecting in a loop.
            for _ in threads { _ = connecting.wait(timeout: .now() + 30) }
            let status = daemon.stop()
            stop.store(true, ordering: .relaxed)
            for _ in threads { ended.wait() }
            #expect(connected.load(ordering: .relaxed) >= 80, "round \(round): clients were connecting")
            #expect(status == 0, "round \(round): \(daemon.diagnostics())")
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "round \(round)")
        }
    }

    @Test func limiterStateSurvivesARestart() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode("""
            [limiter]
            free_per_user = 2
            base_delay = 60
            """))
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wrong = token.wrongCode(avoiding: 0...20)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .invalidCode)
        daemon.expectError(try admin.call("verify", ["user": "alice", "code": wrong]), .invalidCode)
        try daemon.restart()
        let limited = daemon.expectError(try daemon.connectAdmin().call("verify", ["user": "alice", "code": token.code(1)]), .rateLimited)
        #expect((1...60).contains(limited.retryAfter ?? -1))
    }
}
