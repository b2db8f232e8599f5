/// A point in time on the wire: Unix seconds in Swift, an RFC 3339 UTC string in JSON.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var unixSeconds: Int64

    public init(unixSeconds: Int64) {
        self.unixSeconds = unixSeconds
    }

    /// Parses the strict form of `RFC3339.parse`; nil for anything else.
    public init?(rfc3339 text: String) {
        guard let seconds = RFC3339.parse(text) else { return nil }
        self.unixSeconds = seconds
    }

    public var rfc3339: String { RFC3339.format(unixSeconds) }
    public var description: String { rfc3339 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.unixSeconds < rhs.unixSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let seconds = RFC3339.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an RFC 3339 UTC time like 2026-11-21T15:40:46Z")
        }
        self.unixSeconds = seconds
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}
