/// Writes a `JSONValue` as compact JSON text with sorted keys, byte for byte as
/// `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` did (swift-foundation
/// 6.3), which it replaced: keys in the order of their UTF-8 bytes; `"` and `\`
/// escaped, `\b \f \n \r \t` short, other control characters as `\u00XX`, nothing
/// else escaped (not `/`, not U+007F or U+2028); integers in decimal; other numbers
/// as Swift prints a `Double`, without a trailing `.0`; NaN and infinity as `null`.
/// Like the encoder, it refuses more than 511 nested containers (`jsonText` then
/// says `null`, as it did); `JSONReaderDifferentialTests` compares the two.
struct JSONWriter<Output: JSONOutput> {
    private(set) var output: Output

    init(into output: Output) {
        self.output = output
    }

    mutating func write(_ value: JSONValue, depth: Int = 0) throws(JSONWriterTooDeep) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .integer(let i): writeBytes(String(i).utf8)
        case .number(let d):
            guard d.isFinite else { return append("null") }
            var text = d.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            writeBytes(text.utf8)
        case .string(let s): writeString(utf8: s.utf8)
        case .array(let elements):
            guard depth < jsonWriterMaxDepth else { throw JSONWriterTooDeep() }
            output.writeJSON(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { output.writeJSON(UInt8(ascii: ",")) }
                try write(element, depth: depth + 1)
            }
            output.writeJSON(UInt8(ascii: "]"))
        case .object(let members):
            guard depth < jsonWriterMaxDepth else { throw JSONWriterTooDeep() }
            output.writeJSON(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, member) in sorted.enumerated() {
                if i > 0 { output.writeJSON(UInt8(ascii: ",")) }
                writeString(utf8: member.key.utf8)
                output.writeJSON(UInt8(ascii: ":"))
                try write(member.value, depth: depth + 1)
            }
            output.writeJSON(UInt8(ascii: "}"))
        }
    }

    mutating func append(_ word: StaticString) {
        output.writeJSON(UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
    }

    private mutating func writeBytes(_ bytes: some Sequence<UInt8>) {
        for b in bytes { output.writeJSON(b) }
    }

    /// A JSON string of these UTF-8 bytes, escaped as the encoder did.
    mutating func writeString(utf8 bytes: some Sequence<UInt8>) {
        output.writeJSON(UInt8(ascii: "\""))
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): escape(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): escape(UInt8(ascii: "\\"))
            case 0x08: escape(UInt8(ascii: "b"))
            case 0x0C: escape(UInt8(ascii: "f"))
            case 0x0A: escape(UInt8(ascii: "n"))
            case 0x0D: escape(UInt8(ascii: "r"))
            case 0x09: escape(UInt8(ascii: "t"))
            case 0x00..<0x20:
                append("\\u00")
                output.writeJSON(jsonHexDigits[Int(b >> 4)])
                output.writeJSON(jsonHexDigits[Int(b & 0x0F)])
            default: output.writeJSON(b)
            }
        }
        output.writeJSON(UInt8(ascii: "\""))
    }

    private mutating func escape(_ b: UInt8) {
        output.writeJSON(UInt8(ascii: "\\"))
        output.writeJSON(b)
    }
}

/// Refused: more than `jsonWriterMaxDepth` nested containers.
struct JSONWriterTooDeep: Error {}

let jsonWriterMaxDepth = 511
private let jsonHexDigits = Array("0123456789abcdef".utf8)

extension JSONWriter where Output == [UInt8] {
    init() {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        self.init(into: bytes)
    }

    var bytes: [UInt8] { output }
}
