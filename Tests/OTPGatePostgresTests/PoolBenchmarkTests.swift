import Foundation
import OTPGatePostgres
import OTPGatePostgresTestSupport
import OTPGateTestSupport
import Synchronization
import Testing

/// Statements per second through the pool at 1 and 16 blocking callers, beside pgbench
/// running the same SQL (named prepared statements) on the same server in the same run:
/// the pool's overhead over the bare protocol. Off unless OTPGATE_PG_BENCH=1 (it takes
/// about half a minute and prints figures rather than asserting them).
@Suite("PostgreSQL pool benchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["OTPGATE_PG_BENCH"] == "1"))
struct PoolBenchmarkTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["OTPGATE_PG_BENCH_SECONDS"] ?? "5") ?? 5
    static let cases: [(name: String, sql: String, pgbench: String, access: PostgresStatement.Access)] = [
        ("read", "SELECT n::bigint FROM counters WHERE id = $1::int", "SELECT n FROM counters WHERE id = :id;", .readOnly),
        ("write", "UPDATE counters SET n = n + 1 WHERE id = $1::int RETURNING n::bigint",
         "UPDATE counters SET n = n + 1 WHERE id = :id RETURNING n;", .write),
    ]

    @Test func poolBesidePgbench() async throws {
        let server = try PostgresServer()
        try server.psql("CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0); INSERT INTO counters (id) SELECT generate_series(1, 1000); ANALYZE counters")
        let statements = Self.cases.map { PostgresStatement(name: $0.name, sql: $0.sql, access: $0.access) }
        var lines: [String] = ["load: \(try String(contentsOfFile: "/proc/loadavg", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))"]
        for c in Self.cases {
            for clients in [1, 16] {
                let pool = try PostgresPool(settings: server.settings(poolSize: clients), statements: statements, logger: testLogger)
                let counts = Counts()
                let name = c.name
                let start = ContinuousClock.now
                await withTaskGroup(of: Void.self) { group in
                    for t in 0..<clients {
                        group.addTask {
                            await onThread {
                                var id = Int32(t * 61 % 1000 + 1)
                                while PoolBenchmarkTests.elapsed(start) < Self.seconds {
                                    id = id % 1000 + 1
                                    do {
                                        _ = try pool.run(name, binds: [.int32(id)])
                                        counts.value.withLock { $0.done += 1 }
                                    } catch {
                                        counts.value.withLock { $0.failed += 1 }
                                    }
                                }
                            }
                        }
                    }
                }
                let (done, failed) = counts.value.withLock { ($0.done, $0.failed) }
                let rate = Double(done) / Self.elapsed(start)
                pool.shutdown()
                let bare = try pgbench(server, script: "\\set id random(1, 1000)\n" + c.pgbench, clients: clients)
                lines.append(String(format: "%@ c=%2d  pool %8.0f/s (%d failed)  pgbench -M prepared %8.0f/s  ratio %.2f",
                                    c.name, clients, rate, failed, bare, rate / bare))
            }
        }
        print(lines.joined(separator: "\n"))
    }

    final class Counts: Sendable {
        let value = Mutex<(done: Int, failed: Int)>((0, 0))
    }

    static func elapsed(_ start: ContinuousClock.Instant) -> Double { OTPGatePostgresTests.seconds(since: start) }

    func pgbench(_ server: PostgresServer, script: String, clients: Int) throws -> Double {
        let file = server.root + "/bench.sql"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try PostgresServer.run(PostgresServer.bin + "/pgbench", [
            "-n", "-M", "prepared", "-f", file, "-c", "\(clients)", "-j", "\(min(clients, 4))", "-T", "\(Int(Self.seconds))",
            "-h", server.root, "-p", "\(server.port)", "-U", PostgresServer.owner, "postgres",
        ])
        guard status == 0, let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst(6).prefix(while: { $0 != " " }))
        else { throw FixtureError("pgbench failed:\n\(output)") }
        return tps
    }
}
