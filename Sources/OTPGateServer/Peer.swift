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
