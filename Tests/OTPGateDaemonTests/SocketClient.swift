import Glibc

/// A blocking client on a Unix stream socket, with plain Glibc calls: nothing of the
/// daemon's own code (NIO, the Swift client) sits between a test and the wire.
final class SocketClient: LineClient {
    let path: String
    let fd: Int32
    private var reader: LineReader
    private var isOpen = true

    /// Connects to `path`; throws with the errno text when connect(2) fails.
    init(path: String) throws {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket(): \(String(cString: strerror(errno)))") }
        let err = Self.connect(fd, path: path)
        guard err == 0 else {
            Glibc.close(fd)
            throw FixtureError("connect(\(path)): \(String(cString: strerror(err)))")
        }
        self.fd = fd
        self.reader = LineReader(fd: fd)
    }

    deinit {
        if isOpen { Glibc.close(fd) }
    }

    /// connect(2) on `fd`; returns 0 or the errno.
    static func connect(_ fd: Int32, path: String) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return ENAMETOOLONG }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0 ? 0 : errno
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FixtureError("send on \(path): \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func readLine(timeout: Duration) -> LineReader.Outcome {
        reader.readLine(timeout: timeout)
    }

    /// Tells the daemon that no more requests follow (shutdown(SHUT_WR)).
    func shutdownWrite() {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    func close() {
        if isOpen {
            isOpen = false
            Glibc.close(fd)
        }
    }
}
