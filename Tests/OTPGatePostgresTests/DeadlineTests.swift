import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import OTPGatePostgres
import OTPGatePostgresTestSupport
import PostgresNIO
import OTPGateTestSupport
import Testing

@Suite("PostgreSQL pool: deadlines close, never cancel", .serialized, .ownThreadsUnqueued)
struct DeadlineTests {
    static let statements = [
        PostgresStatement(name: "pid", sql: "SELECT pg_backend_pid()::bigint", access: .readOnly),
        // Marked a write so that its deadline is an unknown outcome.
        PostgresStatement(name: "sleep", sql: "SELECT pg_backend_pid()::bigint, pg_sleep(10)", access: .write),
        PostgresStatement(name: "sleep_read", sql: "SELECT pg_sleep(10)", access: .readOnly),
    ]

    @Test func deadlineClosesTheConnectionWithoutACancelAndTheNextCallWorks() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(poolSize: 1, deadline: .seconds(1)), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }

        let first = await timedRun(pool, "pid")
        let pid = try #require(int(first.rows?.first), "\(String(describing: first.error))")

        let slept = await timedRun(pool, "sleep")
        let error = try #require(slept.error)
        #expect(error.code == .deadlineExceeded)
        #expect(error.outcome == .unknown)
        #expect(error.message.contains("may or may not have committed"))
        #expect(slept.elapsed >= 0.95 && slept.elapsed < 1.5, "ended after \(slept.elapsed) s")

        // The backend ends because its client went away, long before pg_sleep(10) would.
        let gone = try eventually(timeout: 3) { try server.psql("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid)") == "0" }
        #expect(gone, "backend \(pid) still in pg_stat_activity")
        let log = server.log()
        #expect(log.contains("[\(pid)] FATAL:  connection to client lost"), "\(server.logTail())")
        #expect(!log.contains("canceling statement due to user request"))

        let next = await timedRun(pool, "pid")
        let newPid = try #require(int(next.rows?.first), "\(String(describing: next.error))")
        #expect(newPid != pid)
    }

    @Test func aReadAtItsDeadlineIsNotDone() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(poolSize: 1, deadline: .milliseconds(500)), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        let slept = await timedRun(pool, "sleep_read")
        #expect(slept.error?.code == .deadlineExceeded)
        #expect(slept.error?.outcome == .notDone)
        #expect(slept.elapsed < 1.0, "ended after \(slept.elapsed) s")
    }

    @Test func waitingForAFreeConnectionEndsAtTheDeadlineUnsent() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(poolSize: 1, deadline: .seconds(4)), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        async let busy = timedRun(pool, "sleep")
        // The sleeper holds the only connection once it is running on the server.
        #expect(try eventually(timeout: 3) { try server.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_backend_pid()::bigint, pg_sleep%'") == "1" })
        // A caller's own earlier deadline bounds the call too.
        let queued = await timedRun(pool, "pid", within: .milliseconds(300))
        #expect(queued.error?.code == .deadlineExceeded)
        #expect(queued.error?.outcome == .notDone)
        #expect(queued.error?.message.contains("it was not sent") == true)
        #expect(queued.elapsed >= 0.28 && queued.elapsed < 0.8, "ended after \(queued.elapsed) s")
        _ = await busy
        // The pool recovers its one slot.
        let after = await timedRun(pool, "pid")
        #expect(after.error == nil, "\(String(describing: after.error))")
    }

    @Test func asyncCallIsBoundedToo() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(poolSize: 1, deadline: .milliseconds(700)), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        let start = ContinuousClock.now
        do throws(PostgresStoreError) {
            _ = try await pool.run("sleep", binds: [])
            Issue.record("pg_sleep(10) returned within 0.7 s")
        } catch {
            #expect(error.code == .deadlineExceeded && error.outcome == .unknown)
        }
        #expect(seconds(since: start) < 1.2)
        let rows = try await pool.run("pid", binds: [])
        #expect(int(rows.first) != nil)
    }

    @Test func blockingRunRefusesAnEventLoopThread() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let code = try await loop.submit { () -> PostgresStoreError.Code? in
            do throws(PostgresStoreError) { _ = try pool.run("pid"); return nil } catch { return error.code }
        }.get()
        #expect(code == .wrongThread)
    }
}
