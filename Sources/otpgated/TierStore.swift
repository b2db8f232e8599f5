#if Fleet
import Logging
import OTPGateConfig
import OTPGatePostgres
import OTPGateStoreContract

/// A tier node's shared store: the `[store.postgres]` settings turned into a pool of
/// this node's role and the PostgreSQL store on it (docs/POSTGRES.md).
enum TierStore {
    static func open(_ s: StorePostgresSettings, key: MasterKey, keySource: String, logger: Logger) throws -> PostgresStore {
        let endpoint: PostgresSettings.Endpoint = s.isSocketDirectory ? .socket(directory: s.host, port: s.port) : .tcp(host: s.host, port: s.port)
        let password: PostgresSettings.Password =
            s.passwordFile.isEmpty ? .none : s.passwordFile.hasPrefix("/") ? .file(s.passwordFile) : .credential(s.passwordFile)
        let tls: PostgresSettings.TLS =
            s.tls == .disable ? .disabled : .verifyFull(caFile: s.caFile, serverName: s.serverName.isEmpty ? nil : s.serverName)
        let settings = PostgresSettings(
            endpoint: endpoint, database: s.database, user: s.user, password: password, tls: tls, poolSize: s.poolSize,
            deadline: .milliseconds(s.deadlineMilliseconds), connectTimeout: .milliseconds(min(1000, s.deadlineMilliseconds)),
            singleNode: s.singleNode)
        let pool = try PostgresPool(settings: settings, statements: PostgresStoreStatements.all, logger: logger)
        do {
            return try PostgresStore(pool: pool, key: key, keySource: keySource, logger: logger)
        } catch {
            pool.shutdown()
            throw error
        }
    }
}
#endif
