/// Layout-compatible with `struct ucred` from <sys/socket.h> (SO_PEERCRED), which
/// Swift's Glibc module does not export.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
