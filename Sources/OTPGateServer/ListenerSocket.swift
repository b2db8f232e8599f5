internal import Glibc
import Logging

/// Where a listener's socket comes from: a path the daemon binds itself, or a file
/// descriptor passed by systemd socket activation.
public struct ListenerSocket: Sendable, Hashable {
    public let kind: SocketKind
    public let path: String
    /// Set when systemd passed the socket (`LISTEN_FDS`); the daemon then neither
    /// creates nor removes the file.
    public let activatedFD: Int32?

    public init(kind: SocketKind, path: String, activatedFD: Int32? = nil) {
        self.kind = kind
        self.path = path
        self.activatedFD = activatedFD
    }

    /// The mode the socket file gets: anyone may connect to the public socket (the
    /// daemon decides by peer credentials); only the owner to the admin socket.
    var mode: mode_t { kind == .public ? 0o666 : 0o600 }

    /// Sockets passed by systemd, by their `FileDescriptorName=` ("public", "admin"),
    /// when `LISTEN_PID` is this process. Unnamed sockets are taken in the order
    /// public, admin.
    public static func fromSystemd(environment: [String: String], config: ServerConfig) -> [ListenerSocket] {
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
            let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0
        else { return [] }
        let names = (environment["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var out: [ListenerSocket] = []
        for i in 0..<count {
            let fd = 3 + i
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let name = i < names.count ? names[Int(i)] : ""
            let kind: SocketKind = name == "admin" || (name != "public" && i == 1) ? .admin : .public
            out.append(ListenerSocket(kind: kind, path: kind == .public ? config.socketPath : config.adminSocketPath, activatedFD: fd))
        }
        return out
    }

    /// Makes the parent directory (0755 if created: the public socket must be
    /// reachable by everyone) and removes a stale socket file, refusing when another
    /// daemon still answers on it or when the path is not a socket.
    func prepare() throws(DaemonError) {
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty {
            var st = stat()
            if lstat(parent, &st) != 0 {
                guard mkdir(parent, 0o755) == 0 || errno == EEXIST else {
                    throw DaemonError("cannot create socket directory \(parent): \(String(cString: strerror(errno)))")
                }
                chmod(parent, 0o755)
            } else if st.st_mode & S_IFMT != S_IFDIR {
                throw DaemonError("socket directory \(parent) is not a directory")
            } else if st.st_mode & 0o022 != 0 && st.st_mode & S_ISVTX == 0 {
                throw DaemonError("socket directory \(parent) is writable by others; fix with 'chmod 755 \(parent)'")
            }
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw DaemonError("\(path) exists and is not a socket; remove it or choose another path")
        }
        if Self.answers(path) {
            throw DaemonError("another otpgated is already listening on \(path)")
        }
        unlink(path)
    }

    /// Whether something accepts connections on the socket at `path`.
    static func answers(_ path: String) -> Bool {
        guard let address = UnixAddress(path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return address.withSockaddr { connect(fd, $0, $1) } == 0
    }

    /// Binds a new socket at `path` with its mode from the first instant, whatever
    /// the process's umask, and listens; returns the descriptor (close-on-exec).
    ///
    /// Linux creates a Unix socket's file with the mode of the socket's own inode
    /// less the umask (`unix_bind`: `SOCK_INODE(sock)->i_mode & ~current_umask()`),
    /// so an fchmod before bind(2) makes the file no wider than `mode` before anyone
    /// can connect; a chmod after it widens it where the umask took more (the public
    /// socket under otpgated's umask 077). The umask is never changed: it is the
    /// whole process's, and a test process runs other tests beside the daemon.
    func bindListening(backlog: Int32) throws(DaemonError) -> Int32 {
        guard let address = UnixAddress(path) else { throw DaemonError("socket path \(path) is too long") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("cannot create a socket for \(path): \(String(cString: strerror(errno)))") }
        guard fchmod(fd, mode) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("cannot set the mode of the socket for \(path): \(reason)")
        }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("cannot bind \(path): \(reason)")
        }
        guard chmod(path, mode) == 0, listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(path)
            throw DaemonError("cannot listen on \(path): \(reason)")
        }
        return fd
    }

    func remove() {
        guard activatedFD == nil else { return }
        var st = stat()
        if lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
    }
}

/// A reason the daemon cannot start or run: one line for the log and stderr.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
