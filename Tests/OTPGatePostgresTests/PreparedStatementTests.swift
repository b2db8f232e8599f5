import Foundation
import OTPGatePostgres
import OTPGatePostgresTestSupport
import NIOCore
import PostgresNIO
import OTPGateTestSupport
import Testing

@Suite("PostgreSQL pool: statements prepared once per connection", .serialized, .ownThreadsUnqueued)
struct PreparedStatementTests {
    static let statements = [
        // What this session has prepared, as PostgreSQL itself lists it.
        PostgresStatement(
            name: "prepared",
            sql: "SELECT pg_backend_pid()::bigint, count(*)::bigint, max(prepare_time)::text, sum(generic_plans + custom_plans)::bigint FROM pg_prepared_statements",
            access: .readOnly),
        PostgresStatement(name: "add", sql: "SELECT ($1::bigint + $2::bigint)", access: .readOnly),
        PostgresStatement(name: "echo", sql: "SELECT $1::text, $2::bytea, $3::boolean, $4::int, $5::text IS NULL", access: .readOnly),
    ]

    @Test func eachConnectionPreparesEveryStatementOnceAndReusesIt() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(poolSize: 2), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }

        // Four threads at once, so both connections are used.
        struct Seen: Sendable { let pid: Int64; let count: Int64; let prepared: String; let executions: Int64 }
        let seen = await withTaskGroup(of: [Seen].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await onThread {
                        var mine: [Seen] = []
                        for _ in 0..<15 {
                            guard let row = try? pool.run("prepared").first else { continue }
                            let (pid, count, time, executions) = try! row.decode((Int64, Int64, String, Int64).self)
                            mine.append(Seen(pid: pid, count: count, prepared: time, executions: executions))
                        }
                        return mine
                    }
                }
            }
            var all: [Seen] = []
            for await part in group { all += part }
            return all
        }
        #expect(seen.count == 60)
        // The registered statements and the pool's own settings check.
        #expect(seen.allSatisfy { $0.count == Int64(Self.statements.count + 1) }, "\(seen.map(\.count))")
        let pids = Set(seen.map(\.pid))
        #expect(pids.count <= 2 && pids.count == pool.statistics.connectionsOpened, "pids \(pids), opened \(pool.statistics.connectionsOpened)")
        for pid in pids {
            let mine = seen.filter { $0.pid == pid }
            // The same preparation every time (a re-prepare would move prepare_time)...
            #expect(Set(mine.map(\.prepared)).count == 1)
            // ... and executed as a prepared statement each time (the plan counters grow).
            let executions = mine.map(\.executions).sorted()
            #expect(executions == Array(executions.first!..<(executions.first! + Int64(mine.count))), "\(executions)")
        }
    }

    @Test func bindsOfEachKindRoundTrip() async throws {
        let server = try PostgresServer()
        let pool = try PostgresPool(settings: server.settings(poolSize: 1), statements: Self.statements, logger: testLogger)
        defer { pool.shutdown() }
        let sum = await timedRun(pool, "add", [.int64(40), .int64(2)])
        #expect(int(sum.rows?.first) == 42)
        let echo = await timedRun(pool, "echo", [.text("héllo"), .bytea([0, 1, 255]), .bool(true), .int32(-7), .null])
        let row = try #require(echo.rows?.first, "\(String(describing: echo.error))")
        let (text, buffer, flag, number, isNull) = try row.decode((String, ByteBuffer, Bool, Int32, Bool).self)
        let bytes = Array(buffer.readableBytesView)
        #expect(text == "héllo" && bytes == [0, 1, 255] && flag && number == -7 && isNull)
        // A bind of the wrong binary type is the server's error, and the connection lives on.
        let wrong = await timedRun(pool, "add", [.text("x"), .int64(1)])
        #expect(wrong.error?.code == .statementFailed, "\(String(describing: wrong.error))")
        #expect(wrong.error?.outcome == .notDone)
        let again = await timedRun(pool, "add", [.int64(1), .int64(1)])
        #expect(int(again.rows?.first) == 2)
        #expect(pool.statistics.connectionsOpened == 1)
        // An unregistered name is refused before anything is sent.
        let unknown = await timedRun(pool, "nosuch")
        #expect(unknown.error?.code == .unknownStatement)
    }

    @Test func aStatementThatDoesNotPrepareFailsTheConnectionClearly() async throws {
        let server = try PostgresServer()
        let bad = [PostgresStatement(name: "bad", sql: "SELECT * FROM no_such_table", access: .readOnly)]
        let pool = try PostgresPool(settings: server.settings(poolSize: 1), statements: bad, logger: testLogger)
        defer { pool.shutdown() }
        let call = await timedRun(pool, "bad")
        #expect(call.error?.code == .statementFailed)
        #expect(call.error?.message.contains("cannot prepare statement bad") == true, "\(String(describing: call.error))")
        #expect(call.error?.sqlState == "42P01")
    }
}
