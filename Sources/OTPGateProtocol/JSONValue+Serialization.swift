import Foundation

extension JSONValue {
    /// Parses one JSON text (any value, not only an object). Throws whatever
    /// `JSONDecoder` throws for text that is not JSON.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// Converts an `Encodable` value (a result struct, say) into its JSON form.
    public init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    /// Decodes this value into a `Decodable` type, as if it had been read from JSON.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(jsonText.utf8))
    }

    /// Compact JSON with sorted keys, so that equal values always give equal text.
    /// Never contains a raw newline: newlines inside strings are escaped.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Only a non-finite number could make the encoder throw, and `encode(to:)`
        // writes those as null; the fallback is there to stay total, not expected.
        guard let data = try? encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
