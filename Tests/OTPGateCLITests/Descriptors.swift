import Glibc

/// Descriptors for a child's standard streams, all close-on-exec in this process.
enum Descriptors {
    /// A pipe: (read end, write end).
    static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard GNU.pipe2(&fds, O_CLOEXEC) == 0 else { throw FixtureError("pipe2: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FixtureError("open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Everything readable from `fd` until end of file; then closes it.
    static func readAll(_ fd: Int32) -> [UInt8] {
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                data += chunk[0..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }

    /// Writes all of `bytes` to `fd` (ignoring a reader that went away); then closes it.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
