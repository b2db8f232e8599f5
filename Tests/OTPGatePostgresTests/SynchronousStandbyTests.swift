import Foundation
import Logging
import NIOCore
import NIOPosix
import OTPGatePostgres
import OTPGatePostgresTestSupport
import PostgresNIO
import OTPGateTestSupport
import Testing

/// FLEET.md trap 1, measured in the test itself: a write waiting for a synchronous
/// standby that never confirms. The pool closes at the deadline and reports an unknown
/// outcome; the control cancels instead and is told the write succeeded.
@Suite("PostgreSQL pool: a synchronous standby that never confirms", .serialized, .ownThreadsUnqueued)
struct SynchronousStandbyTests {
    @Test func closingReportsUnknownWhereCancellingReportsSuccess() async throws {
        let server = try PostgresServer()
        try server.psql("CREATE TABLE t (id int PRIMARY KEY)")
        try server.psql("ALTER SYSTEM SET synchronous_standby_names = 'nosuch'")
        try server.psql("SELECT pg_reload_conf()")
        #expect(try eventually(timeout: 5) { try server.psql("SHOW synchronous_standby_names") == "nosuch" })

        let statements = [PostgresStatement(name: "insert", sql: "INSERT INTO t VALUES ($1) RETURNING id::bigint", access: .write)]
        let deadline = Duration.milliseconds(1500)
        let pool = try PostgresPool(
            settings: server.settings(poolSize: 1, deadline: deadline, singleNode: false), statements: statements, logger: testLogger)
        defer { pool.shutdown() }

        // The pool: the write hangs in the SyncRep wait, the call ends at the deadline.
        let write = await timedRun(pool, "insert", [.int32(1)])
        #expect(pool.writeStatus.writesAllowed, "\(pool.writeStatus.reason)")
        let error = try #require(write.error, "the insert returned although no standby confirmed it")
        #expect(error.code == .deadlineExceeded)
        #expect(error.outcome == .unknown)
        // At the deadline, not before; the upper bound leaves room for a loaded machine
        // (the wait itself never ends by itself).
        #expect(write.elapsed >= 1.45 && write.elapsed < 5.0, "ended after \(write.elapsed) s")
        // Still waiting for the standby (the backend does not read its socket there), not visible.
        #expect(try server.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") == "1")
        #expect(try server.psql("SELECT count(*) FROM t WHERE id = 1") == "0")
        #expect(!server.log().contains("canceling wait for synchronous replication due to user request"))

        // Control: the same write on a connection that is cancelled at the deadline.
        let group = MultiThreadedEventLoopGroup.singleton
        let connection = try await PostgresConnection.connect(
            on: group.next(),
            configuration: .init(unixSocketPath: "\(server.root)/.s.PGSQL.\(server.port)", username: PostgresServer.owner,
                                 password: nil, database: "postgres"),
            id: 1, logger: testLogger)
        let pidRows = try await connection.query("SELECT pg_backend_pid()", logger: testLogger)
        var pid: Int32 = 0
        for try await p in pidRows.decode(Int32.self) { pid = p }
        let start = ContinuousClock.now
        async let controlWrite: [Int32] = {
            var ids: [Int32] = []
            for try await id in try await connection.query("INSERT INTO t VALUES (2) RETURNING id", logger: testLogger).decode(Int32.self) {
                ids.append(id)
            }
            return ids
        }()
        try await Task.sleep(for: deadline)  // the "deadline" of the control, as the pool's
        try server.psql("SELECT pg_cancel_backend(\(pid))")
        let ids = try await controlWrite
        #expect(ids == [2], "the cancelled write was reported as \(ids)")
        #expect(seconds(since: start) < 30, "the cancel did not end the wait")
        #expect(try server.psql("SELECT count(*) FROM t WHERE id = 2") == "1", "the cancelled write's row does not exist")
        // The server's own words: committed locally, maybe on no standby.
        #expect(server.log().contains("canceling wait for synchronous replication due to user request"))
        try await connection.close()

        // The pool's write was not 'not done' either: ending its backend's wait makes the
        // locally committed row visible. That is why its outcome is unknown.
        try server.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
        #expect(try eventually(timeout: 5) { try server.psql("SELECT count(*) FROM t WHERE id = 1") == "1" })
    }
}
