public import Glibc
public import Logging
public import NIOCore
public import NIOPosix
internal import PostgresNIO

/// Applies the schema's named migrations (`vNNN_name`, PostgresSchema.migrations) as
/// `otpgate_owner`, by the protocol of docs/POSTGRES.md ("Migrations"): each file
/// records itself in `otpgate.schema_migrations` (its last statement), so the runner
/// keeps no table of its own and a file applied twice fails on the primary key.
///
/// One transaction under one advisory lock (nodes starting together migrate once, the
/// second finds the work done): the database's record is read; a migration this binary
/// does not know (a newer otpgate migrated it) refuses everything before any change;
/// the missing files run in version order; each must have recorded itself; all commit
/// together or not at all.
public struct PostgresMigrator: Sendable {
    public let settings: PostgresSettings
    public let migrations: [PostgresMigration]
    /// The role the migrations run as: the login role itself, or one it is a member of
    /// (then `SET ROLE`). The schema's v001 refuses any role but `otpgate_owner`.
    public let role: String
    private let group: any EventLoopGroup
    private let credentialsDirectory: String?
    private let passwordOwner: UInt32

    /// The runner's advisory lock (docs/POSTGRES.md; pgfixture.py uses the same).
    public static let lock: Int64 = 7_305_117

    /// `migrations` in the order they apply, named `vNNN_name` with rising versions.
    public init(
        settings: PostgresSettings, migrations: [PostgresMigration] = PostgresSchema.migrations, role: String = "otpgate_owner",
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        credentialsDirectory: String? = PostgresPool.environmentCredentialsDirectory, passwordOwner: UInt32 = geteuid()
    ) throws(PostgresStoreError) {
        try settings.validate()
        var last = 0
        for migration in migrations {
            guard let version = Self.version(of: migration.name), version > last else {
                throw PostgresStoreError(
                    .invalidSettings,
                    "migration name '\(migration.name)' must be vNNN_name (lower-case letters, digits, _) with a version above the one before")
            }
            last = version
        }
        guard !role.isEmpty, role.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
            throw PostgresStoreError(.invalidSettings, "the migration role '\(role)' must be lower-case letters, digits and _")
        }
        self.settings = settings
        self.migrations = migrations
        self.role = role
        self.group = eventLoopGroup
        self.credentialsDirectory = credentialsDirectory
        self.passwordOwner = passwordOwner
    }

    /// The version of `vNNN_name`, nil if the name is not of that form.
    public static func version(of name: String) -> Int? {
        let bytes = Array(name.utf8)
        guard bytes.count >= 6, bytes.count <= 65, bytes[0] == 118, bytes[4] == 95,
            bytes[1...3].allSatisfy({ $0 >= 48 && $0 <= 57 }),
            bytes[5...].allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 })
        else { return nil }
        let version = bytes[1...3].reduce(0) { $0 * 10 + Int($1 - 48) }
        return version >= 1 ? version : nil
    }

    /// What `migrate` did.
    public struct Report: Sendable, Equatable {
        /// Applied now, in order.
        public let applied: [String]
        /// Found already recorded, in order.
        public let alreadyApplied: [String]
    }

    /// Applies every migration the database does not record, in order, in one
    /// transaction. Not bounded by the pool's deadline: a migration takes as long as it
    /// takes (it runs from `otpgated --migrate-store`, never inside a request).
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
        defer { PooledConnection.close(connection) }
        return try await migrate(on: connection, logger: logger)
    }

    private func migrate(on connection: PostgresConnection, logger: Logger) async throws(PostgresStoreError) -> Report {
        func exec(_ sql: String, _ what: String, bind: String? = nil) async throws(PostgresStoreError) -> [PostgresRow] {
            do {
                var query = PostgresQuery(unsafeSQL: sql)
                if let bind { query.binds.append(bind) }
                var rows: [PostgresRow] = []
                for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
                return rows
            } catch {
                let failure = ServerFailure(error)
                throw PostgresStoreError(.migrationFailed, "\(what) failed: \(failure.text)", sqlState: failure.sqlState)
            }
        }
        func names(_ rows: [PostgresRow]) throws(PostgresStoreError) -> [String] {
            var out: [String] = []
            for row in rows {
                guard let name = try? row.decode(String.self) else {
                    throw PostgresStoreError(.migrationFailed, "otpgate.schema_migrations holds a row that is not a name")
                }
                out.append(name)
            }
            return out
        }
        if settings.user != role {
            _ = try await exec("SET ROLE \(role)", "becoming \(role) (the login role \(settings.user) must be a member of it)")
        }
        _ = try await exec("BEGIN", "starting the migration transaction")
        do throws(PostgresStoreError) {
            _ = try await exec("SELECT pg_advisory_xact_lock(\(Self.lock))", "taking the migration lock")
            let exists = try await exec("SELECT to_regclass('otpgate.schema_migrations') IS NOT NULL", "looking for otpgate.schema_migrations")
            let recorded = (try? exists.first?.decode(Bool.self)) == true
                ? try names(try await exec("SELECT name FROM otpgate.schema_migrations ORDER BY version", "reading otpgate.schema_migrations"))
                : []
            let known = Set(migrations.map(\.name))
            let unknown = recorded.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw PostgresStoreError(
                    .migrationRefused,
                    "the database has migrations this otpgate does not know (\(unknown.joined(separator: ", "))): a newer otpgate migrated it; upgrade this node instead of running it against that schema")
            }
            // Extended-protocol statements hold one command each and a migration holds
            // many, so it runs through PL/pgSQL's EXECUTE, with the text as a bound value.
            _ = try await exec(
                """
                CREATE FUNCTION pg_temp.otpgate_apply_migration(script text) RETURNS void
                LANGUAGE plpgsql AS $body$ BEGIN EXECUTE script; END $body$
                """, "creating the migration helper")
            let done = Set(recorded)
            var applied: [String] = []
            for migration in migrations where !done.contains(migration.name) {
                do throws(PostgresStoreError) {
                    _ = try await exec("SELECT pg_temp.otpgate_apply_migration($1)", "migration \(migration.name)", bind: migration.sql)
                } catch {
                    throw PostgresStoreError(
                        .migrationFailed, "migration \(migration.name) failed, nothing was applied (rolled back): \(error.message)",
                        sqlState: error.sqlState)
                }
                let mine = try names(try await exec(
                    "SELECT name FROM otpgate.schema_migrations WHERE name = $1", "checking migration \(migration.name)",
                    bind: migration.name))
                guard mine == [migration.name] else {
                    throw PostgresStoreError(
                        .migrationFailed,
                        "migration \(migration.name) did not record itself in otpgate.schema_migrations; nothing was applied (rolled back)")
                }
                applied.append(migration.name)
            }
            _ = try await exec("DROP FUNCTION pg_temp.otpgate_apply_migration(text)", "dropping the migration helper")
            _ = try await exec("COMMIT", "committing the migrations")
            for name in applied { logger.notice("postgresql migration applied", metadata: ["postgres.migration": "\(name)"]) }
            return Report(applied: applied, alreadyApplied: recorded)
        } catch {
            _ = try? await exec("ROLLBACK", "rolling back")
            throw error
        }
    }
}
