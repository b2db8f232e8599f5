/// `mode` and the `[relay]` table of otpgated.toml: whether this host verifies on its
/// own store (`local`, a single host or a tier node) or forwards to the verifier tier
/// (`relay`, an ordinary host of a fleet; docs/RELAY.md). Plain values only: the relay
/// turns them into TLS connections; the CLI reads them for `doctor`.
public struct RelaySettings: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// This host's own store answers (the default).
        case local
        /// The verifier tier answers, over TLS; this host holds no fleet secret.
        case relay
    }

    /// The PAM module's timeout when its line has no `timeout=` (pam/pam_otpgate.c,
    /// DEFAULT_TIMEOUT_MS), in seconds.
    public static let modulesDefaultTimeout = 5

    /// The tier's nodes, tried in this order. `host` is also the name the node's
    /// certificate must carry.
    public var endpoints: [RelayEndpoint] = []
    /// The CA that signed the tier's certificates (and this host's).
    public var caFile = "/etc/otpgate/fleet-ca.pem"
    /// This host's certificate (PEM): its leaf's CN is the host name the tier records.
    public var certificateFile = "/etc/otpgate/host.pem"
    /// Its private key (PEM), owned by the daemon's user, mode 0600 or 0400.
    public var keyFile = "/etc/otpgate/keys/host.key"
    /// Milliseconds one request may take through the relay, from its arrival to the
    /// tier's reply: connecting, the handshake, sending and receiving. Must be below
    /// the PAM module's timeout, so the module hears `unavailable` and not silence.
    public var deadlineMilliseconds = 2500
    /// The same for the self-service operations (enrolment, recovery codes, token
    /// changes): no PAM module waits for them (the CLI waits 30 s), and the tier hashes
    /// recovery codes with scrypt for some, which takes seconds on a busy node.
    public var selfServiceDeadlineMilliseconds = 10_000
    /// The PAM module's `timeout=` on this host (seconds; the module's default is 5).
    /// Only for the check above: the daemon cannot read every PAM service's line
    /// (`otpgate admin doctor` does).
    public var pamTimeout = RelaySettings.modulesDefaultTimeout
    /// TLS connections kept open to each endpoint, each carrying one request at a time.
    public var connectionsPerEndpoint = 4

    public init() {}
}

/// One `host:port` of `relay.endpoints`.
public struct RelayEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `name:port`, `1.2.3.4:port` or `[v6]:port`; nil for anything else.
    public init?(parsing text: String) {
        var host: Substring
        var rest: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            rest = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            rest = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        let allowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-.:_".contains($0)) }
        guard !host.isEmpty, host.utf8.count <= 253, allowed, let port = Int(rest), (1...65535).contains(port),
            rest.allSatisfy(\.isNumber)
        else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension RelaySettings {
    mutating func read(_ r: inout ConfigReader, mode: Mode, name: String) throws(ConfigError) {
        if let v = try r.strings("relay.endpoints") {
            var seen = Set<RelayEndpoint>()
            endpoints = []
            for text in v {
                guard let endpoint = RelayEndpoint(parsing: text) else {
                    throw ConfigError(
                        "\(r.at("relay.endpoints")) holds \(text.debugDescription), which is not host:port (a name or address, and a port from 1 to 65535; [v6]:port for IPv6)")
                }
                guard seen.insert(endpoint).inserted else {
                    throw ConfigError("\(r.at("relay.endpoints")) lists \(endpoint) twice")
                }
                endpoints.append(endpoint)
            }
        }
        if let v = try r.path("relay.ca_file") { caFile = v }
        if let v = try r.path("relay.certificate_file") { certificateFile = v }
        if let v = try r.path("relay.key_file") { keyFile = v }
        if let v = try r.integer("relay.deadline", 100...60_000) { deadlineMilliseconds = v }
        if let v = try r.integer("relay.self_service_deadline", 100...60_000) { selfServiceDeadlineMilliseconds = v }
        if let v = try r.integer("relay.pam_timeout", 1...60) { pamTimeout = v }
        if let v = try r.integer("relay.connections_per_endpoint", 1...64) { connectionsPerEndpoint = v }
        guard deadlineMilliseconds < pamTimeout * 1000 else {
            throw ConfigError(
                "\(name): relay.deadline (\(deadlineMilliseconds) ms) must be below the PAM module's timeout (relay.pam_timeout = \(pamTimeout) s), or the module gives up before the relay can answer 'unavailable'")
        }
        guard mode == .relay else { return }
        guard !endpoints.isEmpty else {
            throw ConfigError("\(name): mode = \"relay\" needs relay.endpoints, the tier's nodes as [\"host:port\", ...]")
        }
    }
}
