import Glibc

/// Reads newline-terminated lines from a descriptor (a socket or a pipe), waiting at
/// most a given time for each, so that a daemon that hangs fails a test instead of
/// hanging it.
package struct LineReader: Sendable {
    package enum Outcome: Equatable, Sendable {
        /// One line, without its "\n".
        case line([UInt8])
        /// End of stream (or a reset) before a complete line.
        case closed
        case timedOut
    }

    package let fd: Int32
    private var buffer: [UInt8] = []

    package init(fd: Int32) {
        self.fd = fd
    }

    package mutating func readLine(timeout: Duration) -> Outcome {
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
            guard Descriptors.poll([fd], until: deadline) != nil else { return .timedOut }
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
}
