/// A strict reader for the subset of TOML that otpgated.toml uses: `[table]` and
/// `[table.sub]` headers,
/// `key = value` lines with basic strings, integers, booleans and arrays of strings,
/// and `#` comments. Anything else is an error with its line number.
///
/// Why not a TOML library: the one Swift TOML package available to this project
/// (TOMLKit) depends on a package outside the mirror we build from. The config is
/// small and flat, so a strict subset is enough and keeps surprises out.
public struct ConfigFile: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case boolean(Bool)
        case strings([String])
    }

    /// Values by "table.key" ("key" for keys before any table).
    public private(set) var values: [String: Value] = [:]
    /// Where each key was set, for error messages.
    public private(set) var lines: [String: Int] = [:]

    public init(parsing text: String, name: String) throws(ConfigError) {
        var table = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            func fail(_ message: String) -> ConfigError { ConfigError("\(name):\(number): \(message)") }
            let line = Self.stripComment(raw).trimmingSpaces()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[["),
                    let name = Optional(String(line.dropFirst().dropLast()).trimmingSpaces()),
                    name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ Self.isBareKey(String($0)) })
                else { throw fail("a table header must look like [name] or [name.sub]") }
                table = name
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { throw fail("expected 'key = value'") }
            let key = String(line[..<eq]).trimmingSpaces()
            guard Self.isBareKey(key) else { throw fail("'\(key)' is not a plain key (letters, digits, '_' and '-')") }
            let full = table.isEmpty ? key : table + "." + key
            guard values[full] == nil else { throw fail("'\(full)' is set twice") }
            let valueText = String(line[line.index(after: eq)...]).trimmingSpaces()
            guard let value = Self.parseValue(valueText) else {
                throw fail("the value of '\(full)' must be a \"string\", an integer, true/false or [\"a\", \"b\"]")
            }
            values[full] = value
            lines[full] = number
        }
    }

    static func isBareKey(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    /// Drops a `#` comment that is not inside a string.
    static func stripComment(_ line: Substring) -> String {
        var inString = false
        var escaped = false
        var out = ""
        for c in line {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if c == "#" {
                break
            }
            out.append(c)
        }
        return out
    }

    static func parseValue(_ text: String) -> Value? {
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if text.hasPrefix("\"") { return parseString(Substring(text)).flatMap { $0.rest.isEmpty ? .string($0.value) : nil } }
        if text.hasPrefix("[") && text.hasSuffix("]") {
            var rest = Substring(text.dropFirst().dropLast()).drop(while: { $0 == " " })
            var items: [String] = []
            while !rest.isEmpty {
                guard let (value, after) = parseString(rest) else { return nil }
                items.append(value)
                rest = after.drop(while: { $0 == " " })
                if rest.hasPrefix(",") { rest = rest.dropFirst().drop(while: { $0 == " " }) } else if !rest.isEmpty { return nil }
            }
            return .strings(items)
        }
        let digits = text.replacingUnderscores()
        if let n = Int64(digits), digits.first != "+" { return .integer(n) }
        return nil
    }

    /// A basic string with the escapes \" \\ \n \t; returns the rest of the input.
    static func parseString(_ text: Substring) -> (value: String, rest: Substring)? {
        guard text.first == "\"" else { return nil }
        var out = ""
        var i = text.index(after: text.startIndex)
        while i < text.endIndex {
            let c = text[i]
            if c == "\"" { return (out, text[text.index(after: i)...]) }
            if c == "\\" {
                i = text.index(after: i)
                guard i < text.endIndex else { return nil }
                switch text[i] {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: return nil
                }
            } else {
                out.append(c)
            }
            i = text.index(after: i)
        }
        return nil
    }
}

/// A configuration error: one line that names the file, the line and the problem.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }

    func replacingUnderscores() -> String {
        // TOML allows 1_000; an underscore must sit between digits.
        String(self).split(separator: "_", omittingEmptySubsequences: false).count > 1
            && !self.hasPrefix("_") && !self.hasSuffix("_") && !self.contains("__")
            ? String(self.filter { $0 != "_" }) : String(self)
    }
}
