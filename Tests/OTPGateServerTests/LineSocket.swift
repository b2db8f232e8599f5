import Foundation
import Glibc
import OTPGateProtocol
@testable import OTPGateServer

/// A blocking client of one stream Unix socket, a line at a time, for the tests that
/// talk to a real listener. Every wait has a bound that only a broken daemon meets.
final class LineSocket: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects, or throws with the errno (see `connectError`).
    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket: \(String(cString: strerror(errno)))") }
        if let e = Self.connect(fd, path) {
            close(fd)
            throw ConnectFailure(errno: e)
        }
    }

    deinit { close(fd) }

    struct ConnectFailure: Error, Equatable { let errno: Int32 }

    /// The errno of connecting to `path` now (nil when it connects).
    static func connectError(path: String) -> Int32? {
        do {
            _ = try LineSocket(path: path)
            return nil
        } catch let e as ConnectFailure {
            return e.errno
        } catch {
            return -1
        }
    }

    private static func connect(_ fd: Int32, _ path: String) -> Int32? {
        guard let address = UnixAddress(path) else { return ENAMETOOLONG }
        return address.withSockaddr { Glibc.connect(fd, $0, $1) } == 0 ? nil : errno
    }

    func send(_ line: String) throws {
        try send(bytes: Array(line.utf8))
    }

    func send(bytes: [UInt8]) throws {
        var bytes = bytes
        while !bytes.isEmpty {
            let n = Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
            guard n > 0 else { throw DaemonError("send: \(String(cString: strerror(errno)))") }
            bytes.removeFirst(n)
        }
    }

    /// The next line without its "\n"; nil at end of stream.
    func readLine(timeout: Duration = .seconds(20)) throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeFirst(nl + 1)
                return line
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw DaemonError("no reply within \(timeout)") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&p, 1, ms) >= 0 else { throw DaemonError("poll: \(String(cString: strerror(errno)))") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if n == 0 { return nil }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                if errno == ECONNRESET { return nil }
                throw DaemonError("recv: \(String(cString: strerror(errno)))")
            }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Sends `request` and parses the reply line.
    func call(_ request: Request) throws -> Reply {
        try call(line: request.line)
    }

    /// Sends a raw line (its "\n" added if missing) and parses the reply line.
    func call(line: String) throws -> Reply {
        try send(line.hasSuffix("\n") ? line : line + "\n")
        return try readReply()
    }

    func readReply() throws -> Reply {
        guard let line = try readLine() else { throw DaemonError("the connection closed before a reply") }
        return try Reply.parse(line: Array(line.utf8))
    }
}

/// A datagram socket standing in for systemd's notify socket.
final class NotifySocket: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard let address = UnixAddress(path), address.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            close(fd)
            throw DaemonError("bind \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// The next datagram; nil if none came within `timeout` (a daemon that never
    /// got ready).
    func receive(timeout: Duration = .seconds(30)) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout.components.seconds * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }
}
