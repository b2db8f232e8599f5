package import Glibc

/// The one place the fixtures build a `sockaddr_un`: bind(2), connect(2) and
/// sendto(2) on a path.
package enum UnixAddress {
    /// Calls `body` with the address of `path` and its length; ENAMETOOLONG (as errno,
    /// with -1) when the path does not fit.
    package static func with(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            errno = ENAMETOOLONG
            return -1
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// connect(2) of `fd` to `path`: 0 or the errno.
    package static func connect(_ fd: Int32, to path: String) -> Int32 {
        with(path) { Glibc.connect(fd, $0, $1) } == 0 ? 0 : errno
    }

    /// A new socket of `type` (close-on-exec) bound to `path`.
    package static func bound(_ path: String, type: __socket_type) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket(): \(errnoText())") }
        guard with(path, { bind(fd, $0, $1) }) == 0 else {
            let reason = errnoText()
            close(fd)
            throw FixtureError("bind \(path): \(reason)")
        }
        return fd
    }

    /// A listening stream socket on `path`.
    package static func listening(_ path: String, backlog: Int32 = 16) throws -> Int32 {
        let fd = try bound(path, type: SOCK_STREAM)
        guard listen(fd, backlog) == 0 else {
            let reason = errnoText()
            close(fd)
            throw FixtureError("listen \(path): \(reason)")
        }
        return fd
    }
}
