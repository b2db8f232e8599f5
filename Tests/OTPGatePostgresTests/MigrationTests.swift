import Foundation
import OTPGatePostgres
import OTPGatePostgresTestSupport
import Testing

@Suite("PostgreSQL migration runner", .serialized)
struct MigrationTests {
    static let first = PostgresMigration(name: "0001_accounts", sql: """
        CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);
        CREATE FUNCTION account_name(p bigint) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT name FROM accounts WHERE id = p;
        $$;
        INSERT INTO accounts VALUES (1, 'one');
        """)
    static let second = PostgresMigration(name: "0002_audit", sql: """
        CREATE TABLE audit (id bigserial PRIMARY KEY, note text);
        CREATE INDEX audit_note ON audit (note);
        """)

    @Test func appliesOnceThenNoOpThenRefusesANewerDatabase() async throws {
        let server = try PostgresServer()
        let settings = server.settings()
        let both = try PostgresMigrator(settings: settings, migrations: [Self.first, Self.second])
        let report = try await both.migrate(logger: testLogger)
        #expect(report.applied == ["0001_accounts", "0002_audit"])
        #expect(report.alreadyApplied.isEmpty)
        #expect(try server.psql("SELECT account_name(1)") == "one")
        #expect(try server.psql("SELECT string_agg(name || ':' || applied_by, ',' ORDER BY name) FROM otpgate_migrations")
                == "0001_accounts:otpgate_owner,0002_audit:otpgate_owner")

        let again = try await both.migrate(logger: testLogger)
        #expect(again.applied.isEmpty)
        #expect(again.alreadyApplied == ["0001_accounts", "0002_audit"])
        #expect(try server.psql("SELECT count(*) FROM accounts") == "1")

        // An older binary knows only the first migration: it refuses the newer database.
        let older = try PostgresMigrator(settings: settings, migrations: [Self.first])
        do throws(PostgresStoreError) {
            _ = try await older.migrate(logger: testLogger)
            Issue.record("an older migration list was accepted")
        } catch {
            #expect(error.code == .migrationRefused)
            #expect(error.message.contains("0002_audit") && error.message.contains("newer otpgate"), "\(error.message)")
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let server = try PostgresServer()
        let broken = PostgresMigration(name: "0003_broken", sql: """
            CREATE TABLE half (id int);
            SELECT no_such_function();
            """)
        let migrator = try PostgresMigrator(settings: server.settings(), migrations: [Self.first, broken])
        do throws(PostgresStoreError) {
            _ = try await migrator.migrate(logger: testLogger)
            Issue.record("a broken migration was applied")
        } catch {
            #expect(error.code == .migrationFailed)
            #expect(error.message.contains("0003_broken") && error.message.contains("rolled back"), "\(error.message)")
            #expect(error.sqlState == "42883")
        }
        #expect(try server.psql("SELECT to_regclass('half') IS NULL") == "t")
        #expect(try server.psql("SELECT string_agg(name, ',') FROM otpgate_migrations") == "0001_accounts")
        // Fixed in the next release: it applies.
        let fixed = PostgresMigration(name: "0003_broken", sql: "CREATE TABLE half (id int);")
        let report = try await PostgresMigrator(settings: server.settings(), migrations: [Self.first, fixed]).migrate(logger: testLogger)
        #expect(report.applied == ["0003_broken"])
    }
}
