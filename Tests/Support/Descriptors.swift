package import Glibc

/// Descriptors for children's standard streams, all close-on-exec in this process.
package enum Descriptors {
    /// A pipe: (read end, write end).
    package static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard GNU.pipe2(&fds, O_CLOEXEC) == 0 else { throw FixtureError("pipe2: \(errnoText())") }
        return (fds[0], fds[1])
    }

    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FixtureError("open \(path): \(errnoText())") }
        return fd
    }

    /// Everything readable from `fd` until end of file; then closes it.
    package static func readAll(_ fd: Int32) -> [UInt8] {
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

    /// Writes all of `bytes` to `fd`; false when the reader went away.
    @discardableResult
    package static func write(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }

    /// Writes all of `bytes` to `fd` (ignoring a reader that went away); then closes it.
    package static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        write(bytes, to: fd)
        close(fd)
    }

    /// poll(2) for `events` on `fds` until one is ready or `deadline` passes; retried
    /// on EINTR. Returns the revents of each, or nil at the deadline.
    package static func poll(_ fds: [Int32], events: Int16 = Int16(POLLIN), until deadline: ContinuousClock.Instant) -> [Int16]? {
        var set = fds.map { pollfd(fd: $0, events: events, revents: 0) }
        while true {
            let left = max(deadline - ContinuousClock.now, .zero)
            let ready = Glibc.poll(&set, nfds_t(set.count), Int32(clamping: milliseconds(left)))
            if ready > 0 { return set.map(\.revents) }
            if ready < 0 && errno != EINTR { return set.map { _ in Int16(POLLERR) } }
            if ready == 0 && ContinuousClock.now >= deadline { return nil }
        }
    }

    /// Rounded up, so that a poll never returns early and spins.
    package static func milliseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
