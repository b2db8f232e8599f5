import Foundation
import OTPGateProtocol

/// The JSON path `JSONReader` and `JSONWriter` replaced, kept here only as the oracle
/// of the differential tests: `JSONDecoder` into `JSONValue` (through its `Codable`
/// conformance) and `JSONEncoder` with sorted keys out of it.
enum FoundationJSONOracle {
    /// The value JSONDecoder read, or nil where it threw.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// What `JSONValue(encoding:)` was: JSONEncoder, then JSONDecoder; nil where it threw.
    static func roundTrip(_ value: some Encodable) -> JSONValue? {
        guard let data = try? JSONEncoder().encode(value) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The text JSONEncoder wrote (`null` where it threw, as `jsonText` did).
    static func text(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
