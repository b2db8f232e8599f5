import Foundation
import Logging
import OTPGatePostgres
import OTPGatePostgresTestSupport
import OTPGateStoreContract
import Synchronization

/// The PostgreSQL backend of the contract suite: one real server for the test process
/// (initdb with a superuser of its own, the roles of docs/POSTGRES.md), and a fresh
/// database per store, a copy of one migrated as otpgate_owner, used by a node role that is also in
/// otpgate_admin (the suite calls admin operations too).
extension ContractBackend {
    static let postgres = ContractBackend(name: "postgres") { policy in
        let (settings, drop) = try ContractPostgres.database(policy)
        let logger = Logger(label: "contract") { _ in SwiftLogNoOpLogHandler() }
        let pool = try PostgresPool(settings: settings, statements: PostgresStoreStatements.all, logger: logger)
        let key = try MasterKey.generate()
        let store = try PostgresStore(pool: pool, key: key, keySource: "test key", recoveryHasher: ContractStore.hasher, logger: logger)
        return ContractStore(store: store, key: key) {
            pool.shutdown()
            drop()
        }
    }
}

enum ContractPostgres {
    static let node = "contract_node"
    nonisolated(unsafe) private static var running: PostgresServer?
    private static let counter = Atomic<Int>(0)
    static func next() -> Int { counter.add(1, ordering: .relaxed).newValue }

    /// A fresh database on the shared server, a copy of the migrated one, with `policy`
    /// as the tier's limiter policy: the settings of the node role on it, and its removal.
    static func database(_ policy: LimiterPolicy) throws -> (PostgresSettings, drop: @Sendable () -> Void) {
        let server = try shared.get()
        let template = try migrated.get()
        let database = "ct_\(next())"
        try server.psql("CREATE DATABASE \(database) OWNER otpgate_owner TEMPLATE \(template)")
        try server.psql("REVOKE ALL ON DATABASE \(database) FROM PUBLIC; GRANT CONNECT ON DATABASE \(database) TO otpgate_node, otpgate_admin")
        try server.psql(
            "SELECT otpgate.set_limiter_policy(\(policy.freePerHost), \(policy.freePerUser), \(policy.baseDelay), \(policy.maxDelay), \(policy.lockoutFailures), 0)",
            user: "otpgate_owner", database: database)
        let settings = PostgresSettings(
            endpoint: .socket(directory: server.root, port: server.port), database: database, user: node,
            poolSize: 4, deadline: .seconds(10), connectTimeout: .seconds(5), singleNode: true)
        return (settings, { _ = try? server.psql("DROP DATABASE \(database) WITH (FORCE)") })
    }

    /// Started on first use; the error, if any, is every PostgreSQL test's error.
    /// Stopped and removed when the test process exits (a static is never deinitialised, and the
    /// postmaster would outlive the tests).
    static let shared: Result<PostgresServer, any Error> = Result {
        let server = try PostgresServer(superuser: "postgres")
        running = server
        atexit { ContractPostgres.running?.remove() }
        try server.psql(file: try file("bootstrap_roles", PostgresSchema.bootstrapRoles))
        try server.psql("CREATE ROLE \(node) LOGIN IN ROLE otpgate_node, otpgate_admin")
        return server
    }

    /// A database with every migration applied, made once: each store's database is a
    /// copy of it (CREATE DATABASE … TEMPLATE, 0.2 s) instead of running the migrations
    /// again (1.6 s of the server's time each). Nothing connects to it after this, as
    /// PostgreSQL requires of a template.
    static let migrated: Result<String, any Error> = Result {
        let server = try shared.get()
        let database = "ct_migrated"
        try server.psql("CREATE DATABASE \(database) OWNER otpgate_owner")
        for migration in PostgresSchema.migrations {
            try server.psql(file: try file(migration.name, migration.sql), user: "otpgate_owner", database: database)
        }
        return database
    }

    /// A migration as a file psql can read (psql runs as this process's user).
    static func file(_ name: String, _ sql: String) throws -> String {
        let path = NSTemporaryDirectory() + "otpgate-\(getpid())-\(name).sql"
        try sql.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
