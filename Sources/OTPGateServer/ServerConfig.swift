public import OTPGateStore

/// Everything otpgated can be told, with the defaults documented in
/// etc/otpgate/otpgated.toml. Paths are absolute.
public struct ServerConfig: Sendable, Equatable {
    // [paths]
    public var stateDirectory = "/var/lib/otpgate"
    public var keyFile = "/etc/otpgate/keys/master.key"
    public var socketPath = "/run/otpgate/otpgated.sock"
    public var adminSocketPath = "/run/otpgate/otpgated-admin.sock"
    public var databasePath: String { stateDirectory + "/otpgate.db" }

    // [access]
    public var adminGroups: [String] = []
    public var verifyGroup: String?

    // [policy]
    public var requiredGroups: [String] = []
    public var window = 1
    public var hotpLookAhead = 10
    public var enrollmentTTL: Int64 = 600
    /// Shown in authenticator apps; empty means this host's name.
    public var issuer = ""
    public var recoveryCodes = 10

    // [limiter]
    public var limiter = LimiterPolicy.standard

    // [server]
    public var idleTimeout: Int64 = 30
    public var maxConnections = 1024
    public var maxConnectionsPerUID = 64
    public var clockCheckInterval: Int64 = 300
    /// Requests in flight at once. Most of them wait for a group commit (see
    /// OTPStore), so more threads make bigger batches and fewer fsyncs; scrypt stays
    /// capped at `RecoveryCodeHasher.maxConcurrentHashes` whatever this is.
    public var workerThreads = 64

    public init() {}

    /// `--state-dir DIR`: the store, the key and both sockets under DIR. The store
    /// gets its own subdirectory, which is 0700, while DIR stays reachable for the
    /// public socket.
    public mutating func useStateDirectory(_ dir: String) {
        stateDirectory = dir + "/store"
        keyFile = dir + "/master.key"
        socketPath = dir + "/otpgated.sock"
        adminSocketPath = dir + "/otpgated-admin.sock"
    }

    /// Reads a config file's text; every key is optional, unknown keys are errors
    /// (a typo must not silently leave a default in force).
    public init(parsing text: String, name: String) throws(ConfigError) {
        var r = ConfigReader(file: try ConfigFile(parsing: text, name: name), name: name)
        self.init()
        if let v = try r.path("paths.state_dir") { stateDirectory = v }
        if let v = try r.path("paths.key_file") { keyFile = v }
        if let v = try r.path("paths.socket") { socketPath = v }
        if let v = try r.path("paths.admin_socket") { adminSocketPath = v }
        if let v = try r.strings("access.admin_groups") { adminGroups = v }
        if let v = try r.string("access.verify_group") { verifyGroup = v.isEmpty ? nil : v }
        if let v = try r.strings("policy.required_groups") { requiredGroups = v }
        if let v = try r.integer("policy.window", 0...10) { window = v }
        if let v = try r.integer("policy.hotp_look_ahead", 0...100) { hotpLookAhead = v }
        if let v = try r.integer("policy.enrollment_ttl", Int64(1)...86_400) { enrollmentTTL = v }
        if let v = try r.string("policy.issuer") { issuer = v }
        if let v = try r.integer("policy.recovery_codes", 1...100) { recoveryCodes = v }
        if let v = try r.integer("limiter.free_per_host", 0...1000) { limiter.freePerHost = v }
        if let v = try r.integer("limiter.free_per_user", 0...1000) { limiter.freePerUser = v }
        if let v = try r.integer("limiter.base_delay", Int64(1)...3600) { limiter.baseDelay = v }
        if let v = try r.integer("limiter.max_delay", Int64(1)...86_400) { limiter.maxDelay = v }
        if let v = try r.integer("limiter.lockout_failures", 1...100) { limiter.lockoutFailures = v }
        if let v = try r.integer("server.idle_timeout", Int64(1)...3600) { idleTimeout = v }
        if let v = try r.integer("server.max_connections", 1...100_000) { maxConnections = v }
        if let v = try r.integer("server.max_connections_per_uid", 1...100_000) { maxConnectionsPerUID = v }
        if let v = try r.integer("server.clock_check_interval", Int64(10)...86_400) { clockCheckInterval = v }
        if let v = try r.integer("server.worker_threads", 1...512) { workerThreads = v }
        try r.rejectUnknownKeys()
        guard limiter.baseDelay <= limiter.maxDelay else {
            throw ConfigError("\(name): limiter.base_delay must not exceed limiter.max_delay")
        }
    }
}

/// Typed access to a parsed config file that remembers which keys were read, so
/// unknown ones can be reported.
struct ConfigReader {
    let file: ConfigFile
    let name: String
    var used = Set<String>()

    func at(_ key: String) -> String { "\(name):\(file.lines[key] ?? 0): '\(key)'" }

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        used.insert(key)
        switch file.values[key] {
        case nil: return nil
        case .string(let s)?: return s
        default: throw ConfigError("\(at(key)) must be a string")
        }
    }

    mutating func path(_ key: String) throws(ConfigError) -> String? {
        guard let s = try string(key) else { return nil }
        guard s.hasPrefix("/"), !s.contains("\0") else { throw ConfigError("\(at(key)) must be an absolute path") }
        return s
    }

    mutating func strings(_ key: String) throws(ConfigError) -> [String]? {
        used.insert(key)
        switch file.values[key] {
        case nil: return nil
        case .strings(let s)?: return s
        default: throw ConfigError("\(at(key)) must be an array of strings, like [\"wheel\"]")
        }
    }

    mutating func integer<T: FixedWidthInteger>(_ key: String, _ range: ClosedRange<T>) throws(ConfigError) -> T? {
        used.insert(key)
        switch file.values[key] {
        case nil: return nil
        case .integer(let n)?:
            guard let v = T(exactly: n), range.contains(v) else {
                throw ConfigError("\(at(key)) must be between \(range.lowerBound) and \(range.upperBound)")
            }
            return v
        default: throw ConfigError("\(at(key)) must be an integer")
        }
    }

    func rejectUnknownKeys() throws(ConfigError) {
        if let unknown = file.values.keys.filter({ !used.contains($0) }).sorted().first {
            throw ConfigError("\(at(unknown)) is not a setting otpgated knows")
        }
    }
}
