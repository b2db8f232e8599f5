import Glibc

/// Reads newline-terminated lines from a descriptor (a socket or a pipe), waiting at
/// most a given time for each, so that a daemon that hangs fails a test instead of
/// hanging it.
struct LineReader {
    enum Outcome: Equatable {
        /// One line, without its "\n".
        case line([UInt8])
        /// End of stream (or a reset) before a complete line.
        case closed
        case timedOut
    }

    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
    }

    mutating func readLine(timeout: Duration) -> Outcome {
        let deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return .line(line)
            }
            // Polled at least once, so a zero timeout still sees a close or data
            // that has already arrived.
            let left = max(deadline - ContinuousClock.now, .zero)
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(clamping: Self.milliseconds(left)))
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { return .closed }
            if ready == 0 {
                if ContinuousClock.now >= deadline { return .timedOut }
                continue
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
            } else if n < 0 && (errno == EINTR || errno == EAGAIN) {
                continue
            } else {
                return .closed  // 0: end of stream; ECONNRESET and the like: gone too
            }
        }
    }

    /// Rounded up, so that a poll never returns early and spins.
    static func milliseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
