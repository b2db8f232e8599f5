import Foundation
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Issue 13, item 2, through the real daemon: parallel sessions from one host get
/// exactly the guesses the policy allows, and the lockout cap of 100 is exact. (The
/// control, the old check-then-act shape over-admitting under the same race, runs in
/// OTPGateStoreTests' LimiterReservationTests, where the race can be forced.)
@Suite("otpgated: no guess beyond the policy under concurrency", .ownThreads)
struct LimiterRaceTests {
    static func wrongInParallel(_ count: Int, daemon: DaemonProcess, user: String, rhost: String, code: String) -> [String] {
        let socket = daemon.socketPath
        return Parallel.run(count) { _, gate in
            do {
                let client = try SocketClient(path: socket)
                guard try client.call("health").isSuccess else { return "health failed" }
                gate()
                return try client.call("verify", ["user": user, "code": code, "rhost": rhost]).error ?? "ok"
            } catch {
                return "\(error)"
            }
        }
    }

    @Test func sixtyParallelGuessesFromOneHostGetThree() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode("""
            [limiter]
            free_per_host = 3
            free_per_user = 1000
            [server]
            worker_threads = 16
            """))
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let outcomes = Self.wrongInParallel(60, daemon: daemon, user: "alice", rhost: "203.0.113.9", code: token.wrongCode(avoiding: 0...20))
        #expect(outcomes.filter { $0 == "invalid_code" }.count == 3, "\(outcomes)")
        #expect(outcomes.filter { $0 == "rate_limited" }.count == 57, "\(outcomes)")
        #expect(try ConcurrencyTests.failures(of: "alice", admin) == 3, daemon.diagnostics())
    }

    @Test func theLockoutCapOfOneHundredIsExact() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode("""
            [limiter]
            free_per_host = 1000
            free_per_user = 1000
            lockout_failures = 100
            [server]
            worker_threads = 16
            """))
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let wrong = token.wrongCode(avoiding: 0...20)
        var evaluated = 0
        for _ in 0..<4 {
            let outcomes = Self.wrongInParallel(40, daemon: daemon, user: "alice", rhost: "203.0.113.9", code: wrong)
            evaluated += outcomes.filter { $0 == "invalid_code" }.count
            #expect(outcomes.allSatisfy { $0 == "invalid_code" || $0 == "rate_limited" }, "\(outcomes)")
        }
        #expect(evaluated == 100)
        #expect(try ConcurrencyTests.failures(of: "alice", admin) == 100, daemon.diagnostics())
        let after = daemon.expectError(try admin.call("verify", ["user": "alice", "code": token.code(1)]), .rateLimited)
        #expect(after.failure?.message.contains("admin unlock") == true, "\(after.text)")
        let lockouts = try admin.call("admin.audit", ["user": "alice", "limit": 1000]).array("events")?
            .filter { $0["event"]?.stringValue == "user.locked_out" }
        #expect(lockouts?.count == 1)
    }
}
