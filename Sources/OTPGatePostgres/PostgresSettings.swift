/// How to reach PostgreSQL and how the pool behaves: the `[store]` table's PostgreSQL
/// keys, as a plain value. The config parser fills it; `validate()` says what cannot work
/// before any connection is tried.
public struct PostgresSettings: Sendable, Equatable {
    /// Where the server listens.
    public struct Endpoint: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case tcp(host: String, port: Int)
            case socket(directory: String, port: Int)
        }

        let kind: Kind

        /// A host name or address and a port (TLS applies here).
        public static func tcp(host: String, port: Int = 5432) -> Self { .init(kind: .tcp(host: host, port: port)) }

        /// PostgreSQL's Unix socket directory (`unix_socket_directories`); the socket is
        /// `<directory>/.s.PGSQL.<port>`.
        public static func socket(directory: String, port: Int = 5432) -> Self {
            .init(kind: .socket(directory: directory, port: port))
        }

        /// The socket's path, or nil for TCP.
        public var socketPath: String? {
            if case .socket(let directory, let port) = kind { return directory + "/.s.PGSQL.\(port)" }
            return nil
        }

        /// For log lines and `doctor`: "db.example.net:5432" or the socket path.
        public var display: String {
            switch kind {
            case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .socket: return socketPath ?? ""
            }
        }
    }

    /// Where the password comes from.
    public struct Password: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case none
            case file(String)
            case credential(String)
        }

        let kind: Kind

        /// No password (peer or certificate authentication, or trust on a socket).
        public static let none = Self(kind: .none)
        /// A file holding the password (one line; a final newline is ignored), checked as
        /// the master key is: a regular file, not a symlink, owned by the daemon's uid,
        /// mode 0600 or 0400.
        public static func file(_ path: String) -> Self { .init(kind: .file(path)) }
        /// A systemd credential by name (`LoadCredential=<name>:…`), read from
        /// `$CREDENTIALS_DIRECTORY/<name>` with the same checks (root may own it).
        public static func credential(_ name: String) -> Self { .init(kind: .credential(name)) }
    }

    /// TLS to the server.
    public struct TLS: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case disabled
            case verifyFull(caFile: String, serverName: String?)
        }

        let kind: Kind

        /// Plain TCP (only sensible on a socket or loopback; `validate` refuses it for a
        /// remote host unless `allowPlaintext`).
        public static let disabled = Self(kind: .disabled)
        /// TLS required, the server's chain checked against `caFile` and its name against
        /// `serverName` (the host when nil), as libpq's `sslmode=verify-full`.
        public static func verifyFull(caFile: String, serverName: String? = nil) -> Self {
            .init(kind: .verifyFull(caFile: caFile, serverName: serverName))
        }
    }

    public var endpoint: Endpoint
    public var database: String
    /// The node's own role (hosts of the tier each log in with their own).
    public var user: String
    public var password: Password
    public var tls: TLS
    /// Connections kept open at most.
    public var poolSize: Int
    /// The bound on every call (`store.postgres.deadline`), below the PAM module's timeout.
    public var deadline: Duration
    /// The bound on opening one connection (inside the call's deadline, whichever is first).
    public var connectTimeout: Duration
    /// Declared single node: writes are allowed without a synchronous standby.
    public var singleNode: Bool
    /// Allow TLS off to a TCP host that is not loopback (a test network, a sidecar).
    public var allowPlaintext: Bool
    /// Shown in `pg_stat_activity.application_name`.
    public var applicationName: String

    public init(
        endpoint: Endpoint, database: String, user: String, password: Password = .none, tls: TLS = .disabled,
        poolSize: Int = 4, deadline: Duration = .milliseconds(2500), connectTimeout: Duration = .seconds(1),
        singleNode: Bool = false, allowPlaintext: Bool = false, applicationName: String = "otpgated"
    ) {
        self.endpoint = endpoint
        self.database = database
        self.user = user
        self.password = password
        self.tls = tls
        self.poolSize = poolSize
        self.deadline = deadline
        self.connectTimeout = connectTimeout
        self.singleNode = singleNode
        self.allowPlaintext = allowPlaintext
        self.applicationName = applicationName
    }

    /// Refuses settings that cannot work or would be unsafe, naming the key and the fix.
    public func validate() throws(PostgresStoreError) {
        func refuse(_ message: String) -> PostgresStoreError { PostgresStoreError(.invalidSettings, message) }
        switch endpoint.kind {
        case .tcp(let host, let port):
            guard !host.isEmpty else { throw refuse("store.postgres.host is empty; name the server or use a socket directory") }
            guard (1...65535).contains(port) else { throw refuse("store.postgres.port \(port) is not a port (1-65535)") }
            if case .disabled = tls.kind, !allowPlaintext, !Self.isLoopback(host) {
                throw refuse(
                    "store.postgres: TLS is off for the remote host \(host); set a CA file (verify-full) or use a Unix socket")
            }
        case .socket(let directory, let port):
            guard directory.hasPrefix("/") else {
                throw refuse("store.postgres.socket_directory \(directory) is not an absolute path")
            }
            guard (1...65535).contains(port) else { throw refuse("store.postgres.port \(port) is not a port (1-65535)") }
            // sun_path holds 107 bytes and a terminating NUL.
            guard (endpoint.socketPath ?? "").utf8.count <= 107 else {
                throw refuse("store.postgres.socket_directory \(directory) is too long for a Unix socket path (107 bytes)")
            }
            if case .verifyFull = tls.kind {
                throw refuse("store.postgres: TLS over a Unix socket is not supported; remove the CA file or use a host")
            }
        }
        if case .verifyFull(let caFile, let serverName) = tls.kind {
            guard caFile.hasPrefix("/") else { throw refuse("store.postgres.ca_file \(caFile) is not an absolute path") }
            if let serverName, serverName.isEmpty { throw refuse("store.postgres.server_name is empty") }
            if case .tcp(let host, _) = endpoint.kind, serverName == nil, Self.isAddressLiteral(host) {
                throw refuse(
                    "store.postgres.host \(host) is an address; verify-full needs store.postgres.server_name (the name in the server's certificate)")
            }
        }
        guard !database.isEmpty else { throw refuse("store.postgres.database is empty") }
        guard !user.isEmpty else { throw refuse("store.postgres.user is empty; name this node's role") }
        guard (1...256).contains(poolSize) else { throw refuse("store.postgres.pool_size \(poolSize) is not between 1 and 256") }
        guard deadline > .zero, deadline <= .seconds(60) else {
            throw refuse("store.postgres.deadline \(deadline) is not between 0 and 60 s; keep it below the PAM module's timeout")
        }
        guard connectTimeout > .zero else { throw refuse("store.postgres.connect_timeout must be positive") }
        switch password.kind {
        case .none: break
        case .file(let path):
            guard path.hasPrefix("/") else { throw refuse("store.postgres.password_file \(path) is not an absolute path") }
        case .credential(let name):
            guard !name.isEmpty, !name.contains("/") else {
                throw refuse("store.postgres.password_credential '\(name)' is not a credential name")
            }
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func isAddressLiteral(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
