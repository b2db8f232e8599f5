/// The `[tier_listener]` table of otpgated.toml: the TLS listener a verifier-tier node
/// opens for relays (docs/RELAY.md). Absent: no listener. Plain values only; the daemon
/// (trait Fleet) loads the files and binds.
public struct TierListenerSettings: Sendable, Equatable {
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// `listen`: "host:port" or "[v6]:port", at least one.
    public var listen: [Address] = []
    /// PEM chain of this node, leaf first.
    public var certificate = "/etc/otpgate/tier.pem"
    /// Its private key: owned by the daemon's user or root, mode 0600 or 0400.
    public var key = "/etc/otpgate/tier.key"
    /// The CA relays' certificates must chain to.
    public var ca = "/etc/otpgate/relay-ca.pem"
    /// `deny`: relay identities (certificate CNs) or SHA-256 fingerprints (64 hex
    /// digits, ':' between pairs allowed) refused at once.
    public var deny: [String] = []
    /// `deny_file`: more entries, one a line ('#' starts a comment); re-read on reload.
    public var denyFile = ""
    /// Open connections one relay identity may hold.
    public var maxConnectionsPerRelay = 64
    /// Requests per second one relay identity may make (and the burst).
    public var maxRequestsPerSecond = 500
    /// Milliseconds a client has to finish the TLS handshake.
    public var handshakeTimeoutMilliseconds = 5000
    /// Milliseconds a started request line may take to arrive in full.
    public var lineTimeoutMilliseconds = 5000
    /// Seconds a connection may sit with no request before it is closed.
    public var idleTimeout: Int64 = 300

    public init() {}

    mutating func read(_ r: inout ConfigReader, name: String) throws(ConfigError) -> Bool {
        guard r.file.values.keys.contains(where: { $0.hasPrefix("tier_listener.") }) else { return false }
        guard let listen = try r.strings("tier_listener.listen"), !listen.isEmpty else {
            throw ConfigError("\(name): tier_listener.listen must name at least one \"host:port\"")
        }
        self.listen = try listen.map { text throws(ConfigError) in
            guard let address = Self.address(text) else {
                throw ConfigError("\(r.at("tier_listener.listen")) holds \(text.debugDescription), not \"host:port\" or \"[v6]:port\"")
            }
            return address
        }
        if let v = try r.path("tier_listener.certificate_file") { certificate = v }
        if let v = try r.path("tier_listener.key_file") { key = v }
        if let v = try r.path("tier_listener.ca_file") { ca = v }
        if let v = try r.strings("tier_listener.deny") {
            for entry in v where !DenyList.isEntry(entry) {
                throw ConfigError("\(r.at("tier_listener.deny")) holds \(entry.debugDescription): neither a host name nor a SHA-256 fingerprint")
            }
            deny = v
        }
        if let v = try r.path("tier_listener.deny_file") { denyFile = v }
        if let v = try r.integer("tier_listener.max_connections_per_relay", 1...100_000) { maxConnectionsPerRelay = v }
        if let v = try r.integer("tier_listener.max_requests_per_second", 1...1_000_000) { maxRequestsPerSecond = v }
        if let v = try r.integer("tier_listener.handshake_timeout", 100...60_000) { handshakeTimeoutMilliseconds = v }
        if let v = try r.integer("tier_listener.line_timeout", 100...60_000) { lineTimeoutMilliseconds = v }
        if let v = try r.integer("tier_listener.idle_timeout", Int64(1)...86_400) { idleTimeout = v }
        return true
    }

    static func address(_ text: String) -> Address? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace }), let number = Int(port), (1...65535).contains(number) else {
            return nil
        }
        return Address(host: String(host), port: number)
    }
}

/// The relays refused at once: by identity (certificate CN, exact, case-insensitive as
/// host names are) or by SHA-256 fingerprint of the DER certificate.
public struct DenyList: Sendable, Equatable {
    public private(set) var names: Set<String> = []
    public private(set) var fingerprints: Set<String> = []

    public init(_ entries: [String] = []) {
        for entry in entries { add(entry) }
    }

    /// The config's entries and those of `deny_file` (if set), read now. A file that
    /// cannot be read or holds a bad line throws: a deny list half read would let a
    /// revoked relay in.
    public static func load(_ settings: TierListenerSettings, readFile: (String) throws -> String) throws(ConfigError) -> DenyList {
        var list = DenyList(settings.deny)
        guard !settings.denyFile.isEmpty else { return list }
        let text: String
        do { text = try readFile(settings.denyFile) } catch {
            throw ConfigError("tier_listener.deny_file \(settings.denyFile) cannot be read: \(error)")
        }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let entry = String(line.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
            guard !entry.isEmpty else { continue }
            guard isEntry(entry) else {
                throw ConfigError("\(settings.denyFile):\(index + 1): \(entry.debugDescription) is neither a host name nor a SHA-256 fingerprint")
            }
            list.add(entry)
        }
        return list
    }

    public func denies(name: String, fingerprint: String) -> Bool {
        names.contains(name.lowercased()) || fingerprints.contains(fingerprint.lowercased())
    }

    mutating func add(_ entry: String) {
        if let fingerprint = Self.fingerprint(entry) { fingerprints.insert(fingerprint) } else { names.insert(entry.lowercased()) }
    }

    static func isEntry(_ entry: String) -> Bool {
        if fingerprint(entry) != nil { return true }
        let bytes = Array(entry.utf8)
        return (1...253).contains(bytes.count)
            && bytes.allSatisfy { b in
                (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x5F
            }
    }

    static func fingerprint(_ text: String) -> String? {
        var hex = text.lowercased()
        hex.removeAll { $0 == ":" }
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            return nil
        }
        return hex
    }
}
