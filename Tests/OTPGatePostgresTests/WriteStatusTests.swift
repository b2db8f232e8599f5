import OTPGatePostgresTestSupport
import Foundation
@testable import OTPGatePostgres
import PostgresNIO
import OTPGateTestSupport
import Testing

@Suite("PostgreSQL pool: writes refused unless commits survive failover", .serialized, .ownThreadsUnqueued)
struct WriteStatusTests {
    static let statements = [
        PostgresStatement(name: "insert", sql: "INSERT INTO t VALUES ($1) RETURNING id::bigint", access: .write),
        PostgresStatement(name: "count", sql: "SELECT count(*)::bigint FROM t", access: .readOnly),
    ]

    @Test func noSynchronousStandbyRefusesWritesUnlessSingleNode() async throws {
        let server = try PostgresServer()
        try server.psql("CREATE TABLE t (id int PRIMARY KEY)")

        let fleet = try PostgresPool(settings: server.settings(singleNode: false), statements: Self.statements, logger: testLogger)
        defer { fleet.shutdown() }
        #expect(!fleet.writeStatus.writesAllowed)  // unchecked yet
        let refused = await timedRun(fleet, "insert", [.int32(1)])
        #expect(refused.error?.code == .writesRefused)
        #expect(refused.error?.outcome == .notDone)
        #expect(refused.error?.message.contains("synchronous_standby_names is empty") == true, "\(String(describing: refused.error))")
        #expect(!fleet.writeStatus.writesAllowed)
        #expect(fleet.writeStatus.reason.contains("declare single_node"))
        // A read still runs.
        let count = await timedRun(fleet, "count")
        #expect(int(count.rows?.first) == 0)

        let single = try PostgresPool(settings: server.settings(singleNode: true), statements: Self.statements, logger: testLogger)
        defer { single.shutdown() }
        let written = await timedRun(single, "insert", [.int32(2)])
        #expect(int(written.rows?.first) == 2, "\(String(describing: written.error))")
        #expect(single.writeStatus.writesAllowed)
        #expect(single.writeStatus.reason.contains("single node declared"))
        #expect(try server.psql("SELECT string_agg(id::text, ',') FROM t") == "2")
    }

    @Test func aRefreshSeesASettingChangedWithoutAReconnect() async throws {
        let server = try PostgresServer()
        // The table first: with a standby named, every commit waits for it.
        try server.psql("CREATE TABLE t (id int PRIMARY KEY)")
        try server.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        try server.psql("SELECT pg_reload_conf()")
        #expect(try eventually(timeout: 5) { try server.psql("SHOW synchronous_standby_names") == "standby1" })
        let pool = try PostgresPool(settings: server.settings(poolSize: 1, singleNode: false), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        #expect(await timedRun(pool, "count").error == nil)
        #expect(pool.writeStatus.writesAllowed, "\(pool.writeStatus.reason)")
        #expect(try await onThread { try? pool.refreshWriteStatus() }?.writesAllowed == true)

        // Replication given up on the server: the open connection does not know.
        try server.psql("ALTER SYSTEM SET synchronous_standby_names = ''")
        try server.psql("SELECT pg_reload_conf()")
        #expect(try eventually(timeout: 5) { try server.psql("SHOW synchronous_standby_names") == "" })
        let refreshed = await onThread { try? pool.refreshWriteStatus() }
        #expect(refreshed?.writesAllowed == false)
        #expect(pool.statistics.connectionsOpened == 1)
        let refused = await timedRun(pool, "insert", [.int32(1)])
        #expect(refused.error?.code == .writesRefused, "\(String(describing: refused.error))")
        #expect(try server.psql("SELECT count(*) FROM t") == "0")
        do {
            _ = try PostgresPool(settings: server.settings(), statements: [PostgresStatement(name: "otpgate_pool_check", sql: "SELECT 1", access: .readOnly)], logger: testLogger)
            Issue.record("the reserved statement name was accepted")
        } catch {}
    }

    @Test func synchronousCommitOffIsRefusedEvenOnASingleNode() async throws {
        let server = try PostgresServer(config: ["synchronous_commit = off"])
        try server.psql("CREATE TABLE t (id int PRIMARY KEY)")
        let single = try PostgresPool(settings: server.settings(singleNode: true), statements: Self.statements, logger: testLogger)
        defer { single.shutdown() }
        let refused = await timedRun(single, "insert", [.int32(1)])
        #expect(refused.error?.code == .writesRefused)
        #expect(single.writeStatus.reason.contains("synchronous_commit is off"))
    }

    @Test func theDecisionTable() {
        func decide(_ commit: String, _ names: String, recovery: Bool = false, fsync: String = "on", single: Bool = false) -> Bool {
            PostgresWriteStatus.decide(
                synchronousCommit: commit, synchronousStandbyNames: names, inRecovery: recovery, fsync: fsync, singleNode: single
            ).writesAllowed
        }
        #expect(decide("on", "ANY 1 (a, b)"))
        #expect(decide("remote_apply", "a"))
        #expect(!decide("remote_write", "a"))
        #expect(!decide("local", "a"))
        #expect(!decide("off", "a"))
        #expect(!decide("on", ""))
        #expect(!decide("on", "  "))
        #expect(!decide("on", "a", recovery: true))
        #expect(!decide("on", "a", recovery: true, single: true))
        #expect(!decide("on", "a", fsync: "off"))
        #expect(decide("on", "", single: true))
        #expect(decide("local", "", single: true))
        #expect(!decide("off", "", single: true))
        #expect(!decide("on", "", fsync: "off", single: true))
    }
}
