import Foundation
import OTPGatePostgres
import OTPGatePostgresTestSupport
import OTPGateTestSupport
import Testing

/// The runner's protocol (docs/POSTGRES.md, "Migrations") on migrations of its own
/// shape: each file records itself in otpgate.schema_migrations; the runner reads that
/// table, refuses one it does not know, applies the rest in one transaction. The real
/// schema through `otpgated --migrate-store` is tested in Tests/System/test_tier.py.
@Suite("PostgreSQL migration runner", .serialized, .ownThreadsUnqueued)
struct MigrationTests {
    static let first = PostgresMigration(name: "v001_accounts", sql: """
        CREATE SCHEMA otpgate;
        CREATE TABLE otpgate.schema_migrations (version integer PRIMARY KEY, name text NOT NULL UNIQUE,
            applied_by text NOT NULL DEFAULT session_user);
        CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);
        CREATE FUNCTION account_name(p bigint) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT name FROM accounts WHERE id = p;
        $$;
        INSERT INTO accounts VALUES (1, 'one');
        INSERT INTO otpgate.schema_migrations (version, name) VALUES (1, 'v001_accounts');
        """)
    static let second = PostgresMigration(name: "v002_audit", sql: """
        CREATE TABLE audit (id bigserial PRIMARY KEY, note text);
        CREATE INDEX audit_note ON audit (note);
        INSERT INTO otpgate.schema_migrations (version, name) VALUES (2, 'v002_audit');
        """)

    @Test func appliesOnceThenNoOpThenRefusesANewerDatabase() async throws {
        let server = try PostgresServer()
        let settings = server.settings()
        let both = try PostgresMigrator(settings: settings, migrations: [Self.first, Self.second], role: PostgresServer.owner)
        let report = try await both.migrate(logger: testLogger)
        #expect(report.applied == ["v001_accounts", "v002_audit"])
        #expect(report.alreadyApplied.isEmpty)
        #expect(try server.psql("SELECT account_name(1)") == "one")
        #expect(try server.psql("SELECT string_agg(name || ':' || applied_by, ',' ORDER BY version) FROM otpgate.schema_migrations")
                == "v001_accounts:otpgate_owner,v002_audit:otpgate_owner")
        #expect(try server.psql("SELECT to_regclass('otpgate_migrations') IS NULL") == "t", "no second record table")

        let again = try await both.migrate(logger: testLogger)
        #expect(again.applied.isEmpty)
        #expect(again.alreadyApplied == ["v001_accounts", "v002_audit"])
        #expect(try server.psql("SELECT count(*) FROM accounts") == "1")

        // An older binary knows only the first migration: it refuses the newer database.
        let older = try PostgresMigrator(settings: settings, migrations: [Self.first], role: PostgresServer.owner)
        do throws(PostgresStoreError) {
            _ = try await older.migrate(logger: testLogger)
            Issue.record("an older migration list was accepted")
        } catch {
            #expect(error.code == .migrationRefused)
            #expect(error.message.contains("v002_audit") && error.message.contains("newer otpgate"), "\(error.message)")
        }
        // Nor does a newer binary's pending migration run then: nothing changes.
        let third = PostgresMigration(name: "v003_more", sql: "CREATE TABLE more (id int); INSERT INTO otpgate.schema_migrations (version, name) VALUES (3, 'v003_more');")
        try server.psql("INSERT INTO otpgate.schema_migrations (version, name) VALUES (9, 'v009_future')")
        do throws(PostgresStoreError) {
            _ = try await PostgresMigrator(settings: settings, migrations: [Self.first, Self.second, third], role: PostgresServer.owner)
                .migrate(logger: testLogger)
            Issue.record("a database with an unknown migration was migrated")
        } catch {
            #expect(error.code == .migrationRefused && error.message.contains("v009_future"), "\(error.message)")
        }
        #expect(try server.psql("SELECT to_regclass('more') IS NULL") == "t")
    }

    @Test func allPendingMigrationsAreOneTransaction() async throws {
        let server = try PostgresServer()
        let broken = PostgresMigration(name: "v003_broken", sql: """
            CREATE TABLE half (id int);
            SELECT no_such_function();
            INSERT INTO otpgate.schema_migrations (version, name) VALUES (3, 'v003_broken');
            """)
        let migrator = try PostgresMigrator(
            settings: server.settings(), migrations: [Self.first, Self.second, broken], role: PostgresServer.owner)
        do throws(PostgresStoreError) {
            _ = try await migrator.migrate(logger: testLogger)
            Issue.record("a broken migration was applied")
        } catch {
            #expect(error.code == .migrationFailed)
            #expect(error.message.contains("v003_broken") && error.message.contains("rolled back"), "\(error.message)")
            #expect(error.sqlState == "42883")
        }
        // All or nothing: the two good ones went with it.
        #expect(try server.psql("SELECT to_regclass('otpgate.schema_migrations') IS NULL AND to_regclass('half') IS NULL") == "t")
        // A file that does not record itself is refused too.
        let silent = PostgresMigration(name: "v003_silent", sql: "CREATE TABLE silent (id int);")
        do throws(PostgresStoreError) {
            _ = try await PostgresMigrator(settings: server.settings(), migrations: [Self.first, silent], role: PostgresServer.owner)
                .migrate(logger: testLogger)
            Issue.record("a migration that did not record itself was accepted")
        } catch {
            #expect(error.code == .migrationFailed && error.message.contains("did not record itself"), "\(error.message)")
        }
        // Fixed in the next release: it applies.
        let fixed = PostgresMigration(name: "v003_broken", sql: "CREATE TABLE half (id int); INSERT INTO otpgate.schema_migrations (version, name) VALUES (3, 'v003_broken');")
        let report = try await PostgresMigrator(settings: server.settings(), migrations: [Self.first, Self.second, fixed], role: PostgresServer.owner)
            .migrate(logger: testLogger)
        #expect(report.applied == ["v001_accounts", "v002_audit", "v003_broken"])
    }

    @Test func namesMustBeVersionedAndRising() {
        #expect(PostgresMigrator.version(of: "v005_audit_column") == 5)
        for bad in ["0001_accounts", "v01_x", "v000_zero", "v002_Upper", "v002_", "v002-x"] {
            #expect(PostgresMigrator.version(of: bad) == nil, "\(bad)")
        }
        #expect(throws: PostgresStoreError.self) {
            try PostgresMigrator(
                settings: PostgresSettings(
                    endpoint: .socket(directory: "/nonexistent", port: 5432), database: "otpgate", user: "otpgate_owner", poolSize: 1,
                    deadline: .seconds(1), connectTimeout: .seconds(1), singleNode: true),
                migrations: [Self.second, Self.first])
        }
    }
}
