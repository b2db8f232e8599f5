import Foundation
package import OTPGateProtocol

extension LineClient {
    /// One request line: `{"v":1,"op":…,"id":…, …fields}` plus "\n", encoded by
    /// Foundation's JSONSerialization, independently of the daemon's own encoder.
    package static func requestLine(_ op: String, _ fields: [String: Any] = [:], id: String? = nil) -> [UInt8] {
        var object = fields
        object["op"] = op
        if object["v"] == nil { object["v"] = 1 }
        if let id { object["id"] = id }
        // Only fixed, valid JSON types are ever passed here, so encoding cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }

    package func send(line: String) throws {
        try send(Array((line + "\n").utf8))
    }

    package func send(_ op: String, _ fields: [String: Any] = [:], id: String? = nil) throws {
        try send(Self.requestLine(op, fields, id: id))
    }

    /// The next reply line, parsed by `Reply.parse(line:)` (so a malformed reply fails
    /// the test too). Throws when the connection closes or nothing comes in time. The
    /// default timeout only bounds a daemon that hangs: 30 s, since under load (ten
    /// scrypt hashes of a first enrolment beside other suites) 10 s was seen to pass.
    package func readReply(timeout: Duration = .seconds(30)) throws -> Reply {
        switch readLine(timeout: timeout) {
        case .line(let bytes):
            do {
                return try Reply.parse(line: bytes)
            } catch {
                throw FixtureError("unparsable reply \(String(decoding: bytes, as: UTF8.self)): \(error)")
            }
        case .closed:
            throw FixtureError("the daemon closed the connection instead of replying")
        case .timedOut:
            throw FixtureError("no reply within \(timeout)")
        }
    }

    /// One request and its reply.
    package func call(_ op: String, _ fields: [String: Any] = [:], id: String? = nil, timeout: Duration = .seconds(30)) throws
        -> Reply
    {
        try send(op, fields, id: id)
        return try readReply(timeout: timeout)
    }

    /// A raw line (without "\n") and its reply.
    package func call(line: String, timeout: Duration = .seconds(30)) throws -> Reply {
        try send(line: line)
        return try readReply(timeout: timeout)
    }

    /// Whether the daemon closes the connection within `timeout` without sending
    /// anything more.
    package func closesWithoutReply(within timeout: Duration) -> Bool {
        readLine(timeout: timeout) == .closed
    }
}
