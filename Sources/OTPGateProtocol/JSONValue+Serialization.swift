import Foundation

extension JSONValue {
    /// Parses one JSON text (any value, not only an object), with `JSONReader`.
    /// Throws `JSONSyntaxError` for text that is not JSON.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        try JSONReader.parse(bytes)
    }

    /// Converts an `Encodable` value (a result struct, say) into its JSON form,
    /// directly (`JSONValueEncoder`), as a round trip through JSON text would.
    public init(encoding value: some Encodable) throws {
        self = try JSONValueEncoder.encode(value)
    }

    /// Decodes this value into a `Decodable` type, as if it had been read from JSON.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(jsonText.utf8))
    }

    /// Compact JSON with sorted keys, so that equal values always give equal text
    /// (`JSONWriter`). Never contains a raw newline: newlines inside strings are escaped.
    public var jsonText: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }

    /// The same as UTF-8 bytes.
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        // Only more than 511 nested containers make the writer refuse (as JSONEncoder
        // did); null keeps `jsonText` total, as it was.
        guard (try? writer.write(self)) != nil else { return Array("null".utf8) }
        return writer.bytes
    }
}
