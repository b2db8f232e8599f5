import Foundation
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Many clients at once: the single writer and the compare-and-set watermark make
/// exactly one of N uses of a code win, and every failure is counted.
@Suite("otpgated under concurrency", .ownThreads)
struct ConcurrencyTests {
    static let generous = """
        [limiter]
        free_per_user = 1000
        free_per_host = 1000
        lockout_failures = 100
        """

    /// `count` clients, each on its own connection (root on the public socket may
    /// verify anyone), send one verify at the same moment; returns each outcome
    /// ("ok" or the error code, or what went wrong).
    static func verifyInParallel(_ count: Int, socket: String, user: String, code: @escaping @Sendable (Int) -> String) -> [String] {
        Parallel.run(count) { index, gate in
            do {
                let client = try SocketClient(path: socket)
                // Admitted, credentials resolved: only the verify is left to race.
                guard try client.call("health").isSuccess else { return "health failed" }
                gate()
                let reply = try client.call("verify", ["user": user, "code": code(index)])
                return reply.error ?? "ok"
            } catch {
                return "\(error)"
            }
        }
    }

    static func failures(of user: String, _ admin: SocketClient) throws -> Int64? {
        try admin.call("admin.list").array("users")?.first { $0["user"]?.stringValue == user }?["failures"]?.intValue
    }

    @Test func fiftyParallelUsesOfOneCodeAcceptExactlyOne() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode(Self.generous))
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let code = token.code(1)
        let outcomes = Self.verifyInParallel(50, socket: daemon.socketPath, user: "alice") { _ in code }
        #expect(outcomes.count == 50)
        #expect(outcomes.filter { $0 == "ok" }.count == 1, "\(outcomes)")
        #expect(outcomes.filter { $0 == "replayed_code" }.count == 49, "\(outcomes)")
        // Replays count as failures, every one of them.
        #expect(try Self.failures(of: "alice", admin) == 49, daemon.diagnostics())
        // The next code is still good.
        daemon.expectOK(try admin.call("verify", ["user": "alice", "code": token.code(2)]))
    }

    @Test func parallelFailuresAreAllCounted() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode(Self.generous))
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "bob")
        let wrong = token.wrongCode(avoiding: 0...20)
        let outcomes = Self.verifyInParallel(20, socket: daemon.socketPath, user: "bob") { _ in wrong }
        #expect(outcomes == Array(repeating: "invalid_code", count: 20), "\(outcomes)")
        #expect(try Self.failures(of: "bob", admin) == 20, daemon.diagnostics())
    }

    @Test func parallelFailuresUnderAStrictLimiterBackOff() throws {
        let daemon = try DaemonProcess(config: DaemonProcess.oneRecoveryCode("""
            [limiter]
            free_per_user = 5
            base_delay = 60
            [server]
            worker_threads = 4
            """))
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "bob")
        let wrong = token.wrongCode(avoiding: 0...20)
        let outcomes = Self.verifyInParallel(20, socket: daemon.socketPath, user: "bob") { _ in wrong }
        let invalid = outcomes.filter { $0 == "invalid_code" }.count
        let limited = outcomes.filter { $0 == "rate_limited" }.count
        #expect(invalid + limited == 20, "\(outcomes)")
        // The fifth failure starts the backoff. Each attempt is reserved before it is
        // evaluated, so no request on another worker thread gets past it.
        #expect(invalid == 5, "\(outcomes)")
        // Every evaluated code was counted; limited ones were not evaluated.
        #expect(try Self.failures(of: "bob", admin) == Int64(invalid), daemon.diagnostics())
        // Afterwards even the right code is refused, with the wait: base_delay doubled
        // for every failure past the free ones (capped by max_delay, 900 s).
        let after = daemon.expectError(try admin.call("verify", ["user": "bob", "code": token.code(1)]), .rateLimited)
        let delay = min(60 << max(invalid - 5, 0), 900)
        #expect((delay - 2...delay).contains(after.retryAfter ?? -1), "\(invalid) failures")
    }
}
