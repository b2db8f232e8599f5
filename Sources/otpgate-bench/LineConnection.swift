import Glibc

/// A blocking connection to a Unix stream socket that exchanges `\n`-terminated
/// lines, one request in flight at a time. Cheap on purpose: the load generator runs
/// on the same two cores as the daemon, so every microsecond it spends is one the
/// daemon does not get.
final class LineConnection {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 65_536)
    private var start = 0
    private var end = 0

    /// Connects, or throws `BenchError` with the reason (the caller may retry).
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket(): \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw BenchError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard ok == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw BenchError("connect(\(path)): \(message)")
        }
    }

    deinit { close(fd) }

    /// Sends `line` (which must end in `\n`).
    func send(_ line: [UInt8]) throws {
        var sent = 0
        while sent < line.count {
            let n = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError("send: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    /// The next line without its `\n`, handed to `body` as raw bytes.
    func receiveLine<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) throws -> T {
        while true {
            if let nl = (start..<end).first(where: { buffer[$0] == 0x0A }) {
                let result = buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<nl])) }
                start = nl + 1
                if start == end { start = 0; end = 0 }
                return result
            }
            if end == buffer.count {
                guard start > 0 else { throw BenchError("reply line longer than \(buffer.count) bytes") }
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + start, end - start)
                }
                end -= start
                start = 0
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + end, $0.count - end, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError("recv: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw BenchError("the daemon closed the connection") }
            end += n
        }
    }

    /// One request, one reply, as a string (for the few non-hot-path calls).
    func exchange(_ line: String) throws -> String {
        try send(Array((line + "\n").utf8))
        return try receiveLine { String(decoding: $0, as: UTF8.self) }
    }
}
