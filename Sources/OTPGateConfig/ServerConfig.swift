import OTPGateProtocol

/// Everything otpgated can be told, with the defaults documented in
/// etc/otpgate/otpgated.toml. Paths are absolute.
public struct ServerConfig: Sendable, Equatable {
    /// `mode`: this host's store answers (`local`), or the verifier tier (`relay`).
    public var mode = RelaySettings.Mode.local
    // [relay]
    public var relay = RelaySettings()

    // [paths]
    public var stateDirectory = "/var/lib/otpgate"
    public var keyFile = "/etc/otpgate/keys/master.key"
    public var socketPath = "/run/otpgate/otpgated.sock"
    public var adminSocketPath = "/run/otpgate/otpgated-admin.sock"
    public var databasePath: String { stateDirectory + "/otpgate.db" }
    /// Where the store's generation is kept, outside the store (see
    /// `StoreGeneration`); empty means `store.generation` beside the key file.
    public var generationFile = ""
    public var resolvedGenerationFile: String {
        if !generationFile.isEmpty { return generationFile }
        let dir = keyFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return (dir.isEmpty ? "" : dir) + "/store.generation"
    }

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
    /// Until this time (Unix seconds), a user in `requiredGroups` without a token is
    /// let in where the PAM module has `nullok`, and told to enrol; nil: no deadline.
    public var enrollmentDeadline: Int64?
    /// The longest grace period the daemon grants, whatever the module asks (0: none).
    public var maxGracePeriod = 86_400

    // [limiter]
    public var limiter = LimiterSettings()

    // [server]
    public var idleTimeout: Int64 = 30
    public var maxConnections = 1024
    public var maxConnectionsPerUID = 64
    /// Slots only root and the daemon's uid may use (the PAM path, admin tools); when
    /// the config sets max_connections but not this, an eighth of it.
    public var reservedConnections = 128
    /// Store-writing requests per second (and the burst) one unprivileged uid may make.
    public var uidWriteRate = 10
    public var uidWriteBurst = 50
    public var clockCheckInterval: Int64 = 300
    /// Requests in flight at once. Most of them wait for a group commit (see
    /// OTPStore), so more threads make bigger batches and fewer fsyncs; scrypt stays
    /// capped at `RecoveryCodeHasher.maxConcurrentHashes` whatever this is.
    public var workerThreads = 64
    /// Threads blocked in accept(2) on the public socket that serve a root caller's
    /// first request themselves (a PAM login: one thread woken, not three); 0 leaves
    /// the public socket to the event loop, as the admin socket always is.
    public var publicAcceptors = 4

    // [store], [store.postgres]
    public var store = StoreSettings()

    // [tier_listener]: nil when the table is absent (no TLS listener for relays).
    public var tierListener: TierListenerSettings?

    // [audit]
    /// Events older than this many days are deleted (0: kept by age forever).
    public var auditMaxAgeDays = 400
    /// At most this many events are kept, the newest (0: no cap).
    public var auditMaxEvents = 1_000_000
    /// Seconds over which one uid's refused requests are audited as one event and a
    /// count; 0 audits every one.
    public var refusalAuditWindow: Int64 = 60
    /// Seconds between retention runs.
    public var auditPruneInterval: Int64 = 3600

    public init() {}

    /// The users a relay answers from its own store (`[store] local_users`, root
    /// always among them, as on a tier node); every other user goes to the tier.
    /// Root stays local because a fleet-wide "root" on the tier would let one host's
    /// root token open root on every host.
    public var relayLocalUsers: [String] { mode == .relay ? store.localUsers : [] }

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
        if let v = try r.string("mode") {
            guard let m = RelaySettings.Mode(rawValue: v) else {
                throw ConfigError("\(r.at("mode")) must be \"local\" or \"relay\"")
            }
            mode = m
        }
        if let v = try r.path("paths.state_dir") { stateDirectory = v }
        if let v = try r.path("paths.key_file") { keyFile = v }
        if let v = try r.path("paths.generation_file") { generationFile = v }
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
        if let v = try r.time("policy.enrollment_deadline") { enrollmentDeadline = v }
        if let v = try r.integer("policy.max_grace_period", 0...86_400) { maxGracePeriod = v }
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
        if let v = try r.integer("server.public_acceptors", 0...64) { publicAcceptors = v }
        if let v = try r.integer("server.reserved_connections", 0...100_000) {
            reservedConnections = v
        } else {
            reservedConnections = min(reservedConnections, maxConnections / 8)
        }
        if let v = try r.integer("server.uid_write_rate", 1...100_000) { uidWriteRate = v }
        if let v = try r.integer("server.uid_write_burst", 1...100_000) { uidWriteBurst = v }
        if let v = try r.integer("audit.max_age_days", 0...36_500) { auditMaxAgeDays = v }
        if let v = try r.integer("audit.max_events", 0...1_000_000_000) { auditMaxEvents = v }
        if let v = try r.integer("audit.refusal_window", Int64(0)...86_400) { refusalAuditWindow = v }
        if let v = try r.integer("audit.prune_interval", Int64(10)...86_400) { auditPruneInterval = v }
        try store.read(&r, name: name)
        var tier = TierListenerSettings()
        if try tier.read(&r, name: name) { tierListener = tier }
        try relay.read(&r, mode: mode, name: name)
        try r.rejectUnknownKeys()
        if mode == .relay, tierListener != nil {
            throw ConfigError("\(name): mode = \"relay\" forwards to the tier and serves no relays: remove [tier_listener] (the tier's nodes have it)")
        }
        if mode == .relay, store.backend != .sqlite {
            throw ConfigError(
                "\(name): mode = \"relay\" holds no store of fleet users: remove store.backend = \"\(store.backend.rawValue)\" (the tier's nodes have it)")
        }
        guard reservedConnections < maxConnections else {
            throw ConfigError("\(name): server.reserved_connections must be below server.max_connections")
        }
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

    /// An RFC 3339 UTC time such as "2027-01-31T00:00:00Z"; "" means none.
    mutating func time(_ key: String) throws(ConfigError) -> Int64? {
        guard let s = try string(key), !s.isEmpty else { return nil }
        guard let seconds = RFC3339.parse(s) else {
            throw ConfigError("\(at(key)) must be an RFC 3339 UTC time like \"2027-01-31T00:00:00Z\", or \"\" for none")
        }
        return seconds
    }

    mutating func boolean(_ key: String) throws(ConfigError) -> Bool? {
        used.insert(key)
        switch file.values[key] {
        case nil: return nil
        case .boolean(let b)?: return b
        default: throw ConfigError("\(at(key)) must be true or false")
        }
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
