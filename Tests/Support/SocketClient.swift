import Glibc

/// The raw line client: a blocking client on a Unix stream socket, with plain Glibc
/// calls, so nothing of the daemon's own code (NIO, the Swift client) sits between a
/// test and the wire.
package final class SocketClient: LineClient {
    package let path: String
    package let fd: Int32
    private var reader: LineReader
    private var isOpen = true

    /// Connects to `path`; throws with the errno text when connect(2) fails.
    package init(path: String) throws {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket(): \(errnoText())") }
        let err = UnixAddress.connect(fd, to: path)
        guard err == 0 else {
            Glibc.close(fd)
            throw FixtureError("connect(\(path)): \(errnoText(err))")
        }
        self.fd = fd
        self.reader = LineReader(fd: fd)
    }

    deinit {
        if isOpen { Glibc.close(fd) }
    }

    package func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw FixtureError("send on \(path): \(errnoText())") }
            offset += n
        }
    }

    package func readLine(timeout: Duration) -> LineReader.Outcome {
        reader.readLine(timeout: timeout)
    }

    /// Tells the daemon that no more requests follow (shutdown(SHUT_WR)).
    package func shutdownWrite() {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    package func close() {
        if isOpen {
            isOpen = false
            Glibc.close(fd)
        }
    }
}
