import OTPGateProtocol

/// Which of the two sockets a connection came in on.
public enum SocketKind: String, Sendable, Hashable {
    case `public`
    case admin
}

/// Who is on the other end of a connection: the credentials the kernel recorded at
/// connect time (SO_PEERCRED), and what they entitle the caller to, resolved once per
/// connection. Decisions use the uid and gid, never the pid.
public struct Peer: Sendable, Hashable {
    public let uid: UInt32
    public let gid: UInt32
    public let pid: Int32
    public let socket: SocketKind
    /// The caller's login name, if its uid has one: the user it may act on by itself.
    public let userName: String?
    /// uid 0, the daemon's own uid, or a member of an admin group.
    public let isAdmin: Bool
    /// uid 0, the daemon's own uid, or a member of the verify group: may verify and
    /// query any user on the public socket.
    public let isPrivileged: Bool
    /// The relay host the request came through (the identity of its TLS certificate,
    /// docs/RELAY.md), or nil for a caller on this host. Never taken from the request.
    public let host: String?

    public init(
        uid: UInt32, gid: UInt32, pid: Int32, socket: SocketKind, userName: String?, isAdmin: Bool, isPrivileged: Bool,
        host: String? = nil
    ) {
        self.host = host
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.socket = socket
        self.userName = userName
        self.isAdmin = isAdmin
        self.isPrivileged = isPrivileged
    }

    /// Resolves names and group memberships for the raw credentials.
    public static func resolve(
        uid: UInt32, gid: UInt32, pid: Int32, socket: SocketKind, config: ServerConfig, daemonUID: UInt32,
        users: SystemUsers = SystemUsers()
    ) -> Peer {
        let root = uid == 0 || uid == daemonUID
        let admin = root || users.isMember(uid: uid, gid: gid, of: config.adminGroups)
        let privileged = root || (config.verifyGroup.map { users.isMember(uid: uid, gid: gid, of: [$0]) } ?? false)
        return Peer(
            uid: uid, gid: gid, pid: pid, socket: socket, userName: users.name(of: uid), isAdmin: admin,
            isPrivileged: privileged)
    }
}

extension Peer {
    /// The remote host the limiter's per-host counter (and the grace of
    /// `verify.precheck`) is keyed on, from the `rhost` the request claims.
    ///
    /// A local caller's claim is taken as it is (a claim that starts with "relay:" is
    /// prefixed with "local:", so no local caller can spend a relay's part). A relay's
    /// claim is put under its certificate identity: "relay:CN/rhost". A relay can then
    /// spend only the per-host parts under its own name, whatever rhost it claims, plus
    /// the user's count over all hosts, which every host shares (docs/RELAY.md). Cut to
    /// `ProtocolLimits.maxRhostBytes` (a store's column limit): a cut only merges keys of
    /// the same relay.
    public func limiterHost(_ rhost: String?) -> String? {
        let claimed = rhost.flatMap { $0.isEmpty ? nil : $0 }
        guard let host else {
            if let claimed, claimed.hasPrefix("relay:") { return Self.cut("local:" + claimed) }
            return claimed
        }
        return Self.cut("relay:\(host)/\(claimed ?? "")")
    }

    static func cut(_ text: String) -> String {
        var result = ""
        var bytes = 0
        for character in text {
            let n = character.utf8.count
            guard bytes + n <= ProtocolLimits.maxRhostBytes else { break }
            result.append(character)
            bytes += n
        }
        return result
    }
}
