public import Glibc
public import Logging
public import NIOCore
public import NIOPosix
internal import PostgresNIO

/// Applies named migrations with the owner role, each in its own transaction, and
/// refuses a database that records a migration this binary does not know (written by a
/// newer otpgate: running older code on it could break its invariants).
///
/// Concurrent runners (several tier nodes starting at once) are serialised by an
/// advisory lock; the second finds the work done. The record table is created here,
/// so the runner needs nothing from the migrations themselves.
public struct PostgresMigrator: Sendable {
    public let settings: PostgresSettings
    public let migrations: [PostgresMigration]
    /// The table that records applied migrations (schema-qualified if wanted).
    public let table: String
    private let group: any EventLoopGroup
    private let credentialsDirectory: String?
    private let passwordOwner: UInt32

    /// `migrations` in the order they must be applied; names must be unique.
    public init(
        settings: PostgresSettings, migrations: [PostgresMigration], table: String = "otpgate_migrations",
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        credentialsDirectory: String? = PostgresPool.environmentCredentialsDirectory, passwordOwner: UInt32 = geteuid()
    ) throws(PostgresStoreError) {
        try settings.validate()
        var seen = Set<String>()
        for migration in migrations {
            guard !migration.name.isEmpty, seen.insert(migration.name).inserted else {
                throw PostgresStoreError(.invalidSettings, "migration name '\(migration.name)' is empty or given twice")
            }
        }
        let identifier = table.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 46 }
        guard !table.isEmpty, identifier else {
            throw PostgresStoreError(.invalidSettings, "migration table '\(table)' must be lower-case letters, digits, _ and .")
        }
        self.settings = settings
        self.migrations = migrations
        self.table = table
        self.group = eventLoopGroup
        self.credentialsDirectory = credentialsDirectory
        self.passwordOwner = passwordOwner
    }

    /// What `migrate` did.
    public struct Report: Sendable, Equatable {
        /// Applied now, in order.
        public let applied: [String]
        /// Found already recorded.
        public let alreadyApplied: [String]
    }

    /// Applies every migration not yet recorded, in order. Not bounded by the pool's
    /// deadline: a migration may take as long as it takes (it runs at start-up or from
    /// `otpgate admin`, never inside a request).
    public func migrate(logger: Logger) async throws(PostgresStoreError) -> Report {
        let password = try settings.loadPassword(credentialsDirectory: credentialsDirectory, owner: passwordOwner)
        var configuration = try PostgresPool.configuration(settings, password: password)
        configuration.options.connectTimeout = .nanoseconds(PostgresPoolCall.nanoseconds(settings.connectTimeout))
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(on: group.next(), configuration: configuration, id: 0, logger: logger)
        } catch {
            throw PostgresStoreError(.connectFailed, "cannot connect to postgresql to migrate: \(ServerFailure(error).text)")
        }
        do {
            let report = try await migrate(on: connection, logger: logger)
            try? await connection.close()
            return report
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func migrate(on connection: PostgresConnection, logger: Logger) async throws(PostgresStoreError) -> Report {
        func exec(_ sql: String, _ what: String, code: PostgresStoreError.Code = .migrationFailed) async throws(PostgresStoreError) -> [PostgresRow] {
            do {
                var rows: [PostgresRow] = []
                for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) { rows.append(row) }
                return rows
            } catch {
                let failure = ServerFailure(error)
                throw PostgresStoreError(code, "\(what) failed: \(failure.text)", sqlState: failure.sqlState)
            }
        }
        // One lock for every runner of this table, held for the session.
        _ = try await exec("SELECT pg_advisory_lock(hashtext('otpgate migrations ' || '\(table)'))", "taking the migration lock")
        _ = try await exec(
            """
            CREATE TABLE IF NOT EXISTS \(table) (
                name text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                applied_by name NOT NULL DEFAULT current_user
            )
            """, "creating the migration table \(table)")
        let recordedRows = try await exec("SELECT name FROM \(table) ORDER BY applied_at, name", "reading \(table)")
        var recorded: [String] = []
        for row in recordedRows {
            guard let name = try? row.decode(String.self) else {
                throw PostgresStoreError(.migrationFailed, "\(table) holds a row that is not a name")
            }
            recorded.append(name)
        }
        let known = Set(migrations.map(\.name))
        let unknown = recorded.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw PostgresStoreError(
                .migrationRefused,
                "the database records migrations this otpgate does not know (\(unknown.joined(separator: ", "))): it was migrated by a newer otpgate; upgrade this node instead of running it against that schema")
        }
        // Extended-protocol statements hold one command each; a migration holds many, so
        // it runs through PL/pgSQL's EXECUTE, which takes a whole script, with the text
        // as a bound value (no quoting to get wrong).
        _ = try await exec(
            """
            CREATE OR REPLACE FUNCTION pg_temp.otpgate_apply_migration(script text) RETURNS void
            LANGUAGE plpgsql AS $body$ BEGIN EXECUTE script; END $body$
            """, "creating the migration helper")
        let done = Set(recorded)
        var applied: [String] = []
        for migration in migrations where !done.contains(migration.name) {
            _ = try await exec("BEGIN", "starting migration \(migration.name)")
            do {
                _ = try await bound(connection, "SELECT pg_temp.otpgate_apply_migration($1)", migration.sql, logger: logger)
                _ = try await bound(connection, "INSERT INTO \(table) (name) VALUES ($1)", migration.name, logger: logger)
                _ = try await exec("COMMIT", "committing migration \(migration.name)")
            } catch {
                _ = try? await exec("ROLLBACK", "rolling back")
                let failure = ServerFailure(error)
                throw PostgresStoreError(
                    .migrationFailed, "migration \(migration.name) failed and was rolled back: \(failure.text)",
                    sqlState: failure.sqlState)
            }
            logger.notice("postgresql migration applied", metadata: ["postgres.migration": "\(migration.name)"])
            applied.append(migration.name)
        }
        _ = try? await exec("SELECT pg_advisory_unlock(hashtext('otpgate migrations ' || '\(table)'))", "releasing the lock")
        return Report(applied: applied, alreadyApplied: recorded)
    }

    private func bound(_ connection: PostgresConnection, _ sql: String, _ value: String, logger: Logger) async throws -> Int {
        var query = PostgresQuery(unsafeSQL: sql)
        query.binds.append(value)
        var n = 0
        for try await _ in try await connection.query(query, logger: logger) { n += 1 }
        return n
    }
}
