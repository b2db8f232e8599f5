/// Reads one JSON text straight into a `JSONValue`, in one pass over the bytes.
///
/// It replaced `JSONDecoder().decode(JSONValue.self, …)` on every request and reply
/// line, and accepts and refuses what that did (swift-foundation 6.3), so that no
/// line changes its verdict; `JSONReaderDifferentialTests` holds the two side by side
/// on valid, hostile, random and truncated inputs. That includes its leniencies: a
/// UTF-8 byte order mark before the text; one trailing comma in an array or object
/// (`[1,]`, `{"a":1,}`); the first of two equal keys wins (equal as Swift strings, so
/// "é" and "e\u{301}" are one key) and the value of a repeated key is only scanned,
/// not checked (see `skipValue`); at most 512 nested containers. Numbers as
/// `JSONValue` defines them: an integer within `Int64`, also when written with a
/// fraction or exponent that is zero (`6.0`, `1e2`, even `1e-400`, and below 2^53
/// whatever `Double` rounds to a whole number, `1.0000000000000001`), else a finite
/// `Double`; a number beyond `Double` is refused.
///
/// Two deliberate differences, both where the old path went wrong: text in UTF-16 or
/// UTF-32 (which JSONDecoder detected and converted) is not JSON on this protocol's
/// wire (UTF-8 only, RFC 8259 §8.1) and is refused; and for a number from 2^53 up
/// written with a fraction or exponent, which JSONDecoder re-parsed as a `Decimal`
/// (`wholeNumber` does what that did), some texts (`0.<150 zeros>9007199254740993e166`)
/// stopped the process with a trap, where the reader gives a value.
struct JSONReader {
    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    static func parse(_ input: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        if let result = input.withContiguousStorageIfAvailable({ buffer in Result { () throws(JSONSyntaxError) in try parse(buffer) } }) {
            return try result.get()
        }
        let array = Array(input)
        let result = array.withUnsafeBufferPointer { buffer in Result { () throws(JSONSyntaxError) in try parse(buffer) } }
        return try result.get()
    }

    private static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        var reader = JSONReader(buffer)
        if buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { reader.index = 3 }
        let value = try reader.readValue(depth: 0)
        reader.skipWhitespace()
        guard reader.index == buffer.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    // MARK: - Values

    private mutating func readValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end of text") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject(depth: depth + 1)
        case UInt8(ascii: "["): return try readArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try readNumber()
        default:
            throw error("unexpected character")
        }
    }

    private mutating func readObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw error("more than \(Self.maxDepth) nested arrays or objects") }
        index += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try readString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            if object[key] == nil {
                object[key] = try readValue(depth: depth)
            } else {
                try skipValue(depth: depth)
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of text in an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(object)
                }
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            index += 1
            return .object(object)
        }
    }

    private mutating func readArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw error("more than \(Self.maxDepth) nested arrays or objects") }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            array.append(try readValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of text in an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(array)
                }
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            index += 1
            return .array(array)
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        guard bytes.count - index >= n else { throw error("unexpected end of text") }
        for i in 0..<n where bytes[index + i] != word.utf8Start[i] { throw error("unexpected character") }
        index += n
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    // MARK: - Values under a repeated key

    /// Passes over the value of a repeated key, which is dropped (the first wins).
    /// JSONDecoder never decoded such a value, so it only checked what its scanner
    /// checks: the structure (brackets, commas, colons, depth, the literals), where
    /// strings end (a backslash escapes the next byte; `\u` needs four bytes, none of
    /// them a quote) and that a number is a run of `0-9 . + - e E`; not what is inside
    /// strings or whether a number is well formed. To refuse what it accepted would
    /// change verdicts, so the reader does the same.
    private mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        skipWhitespace()
        guard index < bytes.count else { throw error("unexpected end of text") }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = bytes[index] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            guard depth + 1 <= Self.maxDepth else { throw error("more than \(Self.maxDepth) nested arrays or objects") }
            index += 1
            skipWhitespace()
            if index < bytes.count && bytes[index] == close {
                index += 1
                return
            }
            while true {
                if isObject {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                    try skipString()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    index += 1
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of text") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                    if index < bytes.count && bytes[index] == close {
                        index += 1
                        return
                    }
                    continue
                }
                guard bytes[index] == close else { throw error("expected ',' or a closing bracket") }
                index += 1
                return
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"),
                    UInt8(ascii: "e"), UInt8(ascii: "E"):
                    index += 1
                default: return
                }
            }
        default:
            throw error("unexpected character")
        }
    }

    private mutating func skipString() throws(JSONSyntaxError) {
        let start = index
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                let escaped = bytes[index]
                index += 1
                if escaped == UInt8(ascii: "u") {
                    guard bytes.count - index >= 4, !bytes[index..<index + 4].contains(UInt8(ascii: "\"")) else {
                        throw error("invalid \\u escape")
                    }
                    index += 4
                }
            default:
                index += 1
            }
        }
        throw error("unterminated string", at: start)
    }

    // MARK: - Strings

    private mutating func readString() throws(JSONSyntaxError) -> String {
        index += 1
        let start = index
        // Fast path: no escape, the bytes are the string.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) else {
                    throw error("string is not valid UTF-8", at: start)
                }
                index += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            guard b >= 0x20 else { throw error("control character in a string") }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8", at: start) }
                index += 1
                return s
            }
            guard b >= 0x20 else { throw error("control character in a string") }
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate in a \\u escape") }
                    index += 2
                    let low = try readHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("unpaired surrogate in a \\u escape")
                }
                out.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
            default:
                throw error("invalid escape in a string")
            }
        }
        throw error("unterminated string", at: start - 1)
    }

    private mutating func readHex4() throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("unterminated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    // MARK: - Numbers

    private mutating func readNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("a number needs a digit", at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count && isDigit(bytes[index]) { throw error("a number cannot start with 0", at: start) }
        } else {
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        var plain = true
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            plain = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("a fraction needs a digit", at: start) }
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            plain = false
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("an exponent needs a digit", at: start) }
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if plain, let integer = Self.plainInteger(text) { return .integer(integer) }
        // Only ASCII digits, sign, '.', 'e' are left: the text is valid UTF-8.
        guard let double = Double(String(decoding: text, as: UTF8.self)), double.isFinite else {
            throw error("number is beyond what a Double holds", at: start)
        }
        if let integer = Int64(exactly: double) {
            if double.magnitude < 9_007_199_254_740_992 { return .integer(integer) }
            if let whole = Self.wholeNumber(text) { return .integer(whole) }
        }
        return .number(double)
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    /// `-?digits` within Int64, or nil on overflow.
    private static func plainInteger(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        let negative = text[0] == UInt8(ascii: "-")
        var magnitude: UInt64 = 0
        for b in text[(negative ? 1 : 0)...] {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            magnitude = s
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// A number from 2^53 up that `Double` holds as a whole number, as JSONDecoder
    /// read it into an `Int64`: through a `Decimal`, whose 128-bit mantissa takes the
    /// significant digits while they fit (later ones are dropped) and loses trailing
    /// zeros; a mantissa beyond 64 bits fails, and so does a magnitude beyond
    /// Int64.max; otherwise the fraction is cut off (`-414080935875796929.7` is
    /// -414080935875796929). Nil where it failed: the number is then a `Double`.
    private static func wholeNumber(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var mantissa: UInt128 = 0
        var exponent = 0  // value = mantissa × 10^exponent
        var full = false
        var i = 0
        let negative = text[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        var inFraction = false
        while i < text.count, text[i] != UInt8(ascii: "e"), text[i] != UInt8(ascii: "E") {
            let b = text[i]
            i += 1
            if b == UInt8(ascii: ".") {
                inFraction = true
                continue
            }
            let digit = UInt128(b - UInt8(ascii: "0"))
            if !full {
                let (m, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (sum, o2) = m.addingReportingOverflow(digit)
                if o1 || o2 {
                    full = true
                } else {
                    mantissa = sum
                    if inFraction { exponent -= 1 }
                    continue
                }
            }
            if !inFraction { exponent += 1 }
        }
        if i < text.count {
            i += 1
            var sign = 1
            if text[i] == UInt8(ascii: "-") {
                sign = -1
                i += 1
            } else if text[i] == UInt8(ascii: "+") {
                i += 1
            }
            var e = 0
            while i < text.count {
                e = min(e * 10 + Int(text[i] - UInt8(ascii: "0")), 1_000_000)
                i += 1
            }
            exponent += sign * e
        }
        while mantissa != 0 && mantissa % 10 == 0 {
            mantissa /= 10
            exponent += 1
        }
        guard mantissa <= UInt128(UInt64.max) else { return nil }
        var magnitude = UInt64(mantissa)
        if exponent >= 0 {
            for _ in 0..<min(exponent, 40) {
                let (m, o) = magnitude.multipliedReportingOverflow(by: 10)
                if o { return nil }
                magnitude = m
            }
        } else {
            for _ in 0..<min(-exponent, 40) { magnitude /= 10 }
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return negative ? -Int64(magnitude) : Int64(magnitude)
    }

    private func error(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(reason: reason, offset: offset ?? index)
    }
}
