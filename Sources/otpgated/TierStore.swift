#if Fleet
import Logging
import OTPGateConfig
import OTPGatePostgres
import OTPGateStoreContract

/// A tier node's shared store: the `[store.postgres]` settings turned into a pool of
/// this node's role and the PostgreSQL store on it (docs/POSTGRES.md).
enum TierStore {
    static func settings(_ s: StorePostgresSettings, user: String? = nil, passwordFile: String? = nil) -> PostgresSettings {
        let endpoint: PostgresSettings.Endpoint = s.isSocketDirectory ? .socket(directory: s.host, port: s.port) : .tcp(host: s.host, port: s.port)
        let file = passwordFile ?? s.passwordFile
        let password: PostgresSettings.Password = file.isEmpty ? .none : file.hasPrefix("/") ? .file(file) : .credential(file)
        let tls: PostgresSettings.TLS =
            s.tls == .disable ? .disabled : .verifyFull(caFile: s.caFile, serverName: s.serverName.isEmpty ? nil : s.serverName)
        return PostgresSettings(
            endpoint: endpoint, database: s.database, user: user ?? s.user, password: password, tls: tls, poolSize: s.poolSize,
            deadline: .milliseconds(s.deadlineMilliseconds), connectTimeout: .milliseconds(min(1000, s.deadlineMilliseconds)),
            singleNode: s.singleNode)
    }

    /// `otpgated --migrate-store ROLE`: the schema's migrations applied as `ROLE` (which
    /// is otpgate_owner or a member of it) over the `[store.postgres]` connection, by the
    /// protocol of docs/POSTGRES.md; refused when the database is newer than this build.
    static func migrate(_ s: StorePostgresSettings, role: String, passwordFile: String?, logger: Logger) async throws -> String {
        let migrator = try PostgresMigrator(settings: settings(s, user: role, passwordFile: passwordFile ?? ""))
        let report = try await migrator.migrate(logger: logger)
        if report.applied.isEmpty {
            return "otpgated: the database's schema is current (\(report.alreadyApplied.joined(separator: ", ")))"
        }
        return "otpgated: applied \(report.applied.joined(separator: ", "))"
            + (report.alreadyApplied.isEmpty ? "" : " (already applied: \(report.alreadyApplied.joined(separator: ", ")))")
    }

    static func open(_ s: StorePostgresSettings, key: MasterKey, next: MasterKey?, keySource: String, logger: Logger) throws -> PostgresStore {
        let pool = try PostgresPool(settings: settings(s), statements: PostgresStoreStatements.all, logger: logger)
        do {
            return try PostgresStore(pool: pool, key: key, next: next, keySource: keySource, logger: logger)
        } catch {
            pool.shutdown()
            throw error
        }
    }
}
#endif
