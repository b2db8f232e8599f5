/// The `[store]` and `[store.postgres]` tables of otpgated.toml: which backend holds
/// the secrets, and how to reach a shared PostgreSQL database (docs/POSTGRES.md).
/// Plain values only: the daemon turns them into a connection; the CLI reads them
/// for `doctor` without linking any store.
public struct StoreSettings: Sendable, Equatable {
    public enum Backend: String, Sendable, CaseIterable {
        /// One SQLite file on this host (the default).
        case sqlite
        /// A PostgreSQL database shared by the nodes of a verifier tier.
        case postgres
    }

    public var backend = Backend.sqlite
    /// Users always verified against this host's own SQLite store, whatever the
    /// backend: break-glass accounts that must log in while the database is away.
    /// Only meaningful with `postgres`; root is always among them.
    public var localUsers: [String] = ["root"]
    public var postgres = StorePostgresSettings()

    public init() {}

    /// Whether `user` is verified against this host's SQLite store.
    public func isLocal(_ user: String) -> Bool { backend == .sqlite || user == "root" || localUsers.contains(user) }
}

/// `[store.postgres]`.
public struct StorePostgresSettings: Sendable, Equatable {
    public enum TLS: String, Sendable, CaseIterable {
        /// TLS with the server's certificate checked against `ca_file` and its name
        /// against `server_name` (or `host`): libpq's verify-full.
        case verifyFull = "verify-full"
        /// No TLS: allowed only for a Unix socket directory.
        case disable
    }

    /// A host name or address, or an absolute path: the directory of PostgreSQL's
    /// Unix socket.
    public var host = "/run/postgresql"
    public var port = 5432
    public var database = "otpgate"
    /// This node's own role (docs/POSTGRES.md): it may only execute the node functions,
    /// and the audit log names it as the host.
    public var user = ""
    /// The role's password: a file owned by the daemon's user with mode 0600 or
    /// 0400 (checked like the master key), or a systemd credential of this name under
    /// $CREDENTIALS_DIRECTORY. Empty: no password (peer authentication on a socket).
    public var passwordFile = ""
    public var tls = TLS.verifyFull
    public var caFile = "/etc/otpgate/postgres-ca.pem"
    /// The name the server's certificate must carry; empty means `host`.
    public var serverName = ""
    public var poolSize = 8
    /// Milliseconds one store call may take, connecting included. Must stay below the
    /// PAM module's timeout (5 s unless `timeout=` says otherwise): at the deadline
    /// the call's connection is closed (never cancelled) and the request answered
    /// `unavailable`.
    public var deadlineMilliseconds = 2500
    /// The database is one node with no standby, and the admin accepts that losing it
    /// loses acknowledged changes. Without it, writes are refused unless every commit
    /// waits for a synchronous standby (FLEET.md, G2).
    public var singleNode = false

    public init() {}

    public var isSocketDirectory: Bool { host.hasPrefix("/") }
}

extension StoreSettings {
    mutating func read(_ r: inout ConfigReader, name: String) throws(ConfigError) {
        if let v = try r.string("store.backend") {
            guard let b = Backend(rawValue: v) else {
                throw ConfigError("\(r.at("store.backend")) must be one of \(Backend.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            backend = b
        }
        if let v = try r.strings("store.local_users") {
            for user in v where user.isEmpty || user.utf8.count > 256 || user.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) {
                throw ConfigError("\(r.at("store.local_users")) holds a user name that cannot be one: \(user.debugDescription)")
            }
            localUsers = Array(Set(v + ["root"])).sorted()
        }
        var p = postgres
        if let v = try r.string("store.postgres.host") {
            guard !v.isEmpty, !v.contains("\0") else { throw ConfigError("\(r.at("store.postgres.host")) must not be empty") }
            p.host = v
        }
        if let v = try r.integer("store.postgres.port", 1...65535) { p.port = v }
        if let v = try r.string("store.postgres.database") { p.database = v }
        if let v = try r.string("store.postgres.user") { p.user = v }
        if let v = try r.string("store.postgres.password_file") { p.passwordFile = v }
        if let v = try r.string("store.postgres.tls") {
            guard let t = StorePostgresSettings.TLS(rawValue: v) else {
                throw ConfigError("\(r.at("store.postgres.tls")) must be \"verify-full\" or \"disable\"")
            }
            p.tls = t
        }
        if let v = try r.path("store.postgres.ca_file") { p.caFile = v }
        if let v = try r.string("store.postgres.server_name") { p.serverName = v }
        if let v = try r.integer("store.postgres.pool_size", 1...256) { p.poolSize = v }
        if let v = try r.integer("store.postgres.deadline", 100...60_000) { p.deadlineMilliseconds = v }
        if let v = try r.boolean("store.postgres.single_node") { p.singleNode = v }
        postgres = p
        guard backend == .postgres else { return }
        guard !p.user.isEmpty else { throw ConfigError("\(name): store.postgres.user must name this node's database role") }
        guard p.database.isEmpty == false else { throw ConfigError("\(name): store.postgres.database must not be empty") }
        if p.tls == .disable, !p.isSocketDirectory {
            throw ConfigError(
                "\(name): store.postgres.tls = \"disable\" is allowed only for a Unix socket directory; a network link needs \"verify-full\"")
        }
    }
}
