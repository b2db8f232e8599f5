import Foundation
import Glibc
import OTPGatePostgres
import OTPGatePostgresTestSupport
import PostgresNIO
import OTPGateTestSupport
import Testing

@Suite("PostgreSQL pool: server killed and restarted", .serialized, .ownThreadsUnqueued)
struct CrashTests {
    static let statements = [
        PostgresStatement(name: "pid", sql: "SELECT pg_backend_pid()::bigint", access: .readOnly),
        PostgresStatement(name: "sleep", sql: "SELECT pg_sleep(30)", access: .write),
    ]

    @Test func killedServerFailsFastAndThePoolHealsAfterRestart() async throws {
        let server = try PostgresServer()
        let deadline = 2.0
        let pool = try PostgresPool(
            settings: server.settings(poolSize: 2, deadline: .seconds(2)), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        let before = await timedRun(pool, "pid")
        #expect(before.error == nil, "\(String(describing: before.error))")

        // A write in flight when the server dies ends at once, outcome unknown. On a pool
        // of its own with a long deadline, its connection opened first, so that under
        // load the write is surely running (not still connecting) when the kill comes.
        let sleeper = try PostgresPool(
            settings: server.settings(poolSize: 1, deadline: .seconds(30)), statements: Self.statements, logger: testLogger)
        defer { sleeper.shutdown() }
        #expect(await timedRun(sleeper, "pid").error == nil)
        async let inFlight = timedRun(sleeper, "sleep")
        #expect(try eventually(timeout: 20) { try server.psql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'") == "1" })
        let killedAt = ContinuousClock.now
        server.kill9()
        let lost = await inFlight
        #expect(lost.error?.code == .connectionLost, "\(String(describing: lost.error?.message))")
        #expect(lost.error?.outcome == .unknown)
        // Ended by the broken connection, not by its 30 s deadline (the bound leaves room
        // for a loaded machine; a call that waited for the deadline would take 30 s).
        #expect(seconds(since: killedAt) < 10)

        // While it is down: every call fails with a clear error, none past the deadline.
        for _ in 0..<5 {
            let call = await timedRun(pool, "pid")
            let error = try #require(call.error)
            #expect([.connectFailed, .connectionLost].contains(error.code), "\(error)")
            #expect(error.outcome == .notDone)
            #expect(call.elapsed < deadline + 0.25, "took \(call.elapsed) s")
        }
        let refused = await timedRun(pool, "pid")
        #expect(refused.error?.code == .connectFailed)
        #expect(refused.error?.message.contains("cannot connect to postgresql") == true, "\(String(describing: refused.error))")
        #expect(refused.elapsed < 0.5, "a refused connect took \(refused.elapsed) s")

        // Back: the same pool works again, with new connections.
        let openedBefore = pool.statistics.connectionsOpened
        try server.start()
        let after = await timedRun(pool, "pid")
        #expect(after.error == nil, "\(String(describing: after.error))")
        #expect(pool.statistics.connectionsOpened > openedBefore)
        #expect(pool.statistics.open <= 2)
    }
}
