extension FieldReader {
    /// A required array of strings, each checked like a string field.
    func requiredStrings(_ name: String, count: ClosedRange<Int>, bytes: ClosedRange<Int>) throws(RequestError) -> [String] {
        guard let value = object[name], value != .null else { throw failure("missing required field '\(name)'") }
        guard case .array(let items) = value, count.contains(items.count) else {
            throw failure("field '\(name)' must be an array of \(count.lowerBound) to \(count.upperBound) strings")
        }
        var out: [String] = []
        for item in items {
            guard case .string(let string) = item, bytes.contains(string.utf8.count) else {
                throw failure("each of '\(name)' must be a string of at most \(bytes.upperBound) bytes")
            }
            guard !string.containsControlCharacters else {
                throw failure("each of '\(name)' must be free of control characters")
            }
            out.append(string)
        }
        return out
    }
}
