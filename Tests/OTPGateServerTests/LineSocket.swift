import Glibc
import OTPGateProtocol
import OTPGateTestSupport

/// OTPGateTestSupport's raw line client (`SocketClient`) with what these tests read
/// from it: a line as a string, the protocol's `Reply`, connect's errno. Every wait
/// has a bound that only a broken daemon meets.
final class LineSocket: @unchecked Sendable {
    private let client: SocketClient
    var fd: Int32 { client.fd }

    init(path: String) throws {
        client = try SocketClient(path: path)
    }

    /// The errno of connecting to `path` now (nil when it connects).
    static func connectError(path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let e = UnixAddress.connect(fd, to: path)
        return e == 0 ? nil : e
    }

    func send(_ line: String) throws {
        try client.send(Array(line.utf8))
    }

    func send(bytes: [UInt8]) throws {
        try client.send(bytes)
    }

    /// The next line without its "\n"; nil at end of stream.
    func readLine(timeout: Duration = .seconds(20)) throws -> String? {
        switch client.readLine(timeout: timeout) {
        case .line(let bytes): String(decoding: bytes, as: UTF8.self)
        case .closed: nil
        case .timedOut: throw FixtureError("no reply within \(timeout)")
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
        guard let line = try readLine() else { throw FixtureError("the connection closed before a reply") }
        return try Reply.parse(line: Array(line.utf8))
    }
}
