/// Reads the fields of one request object, with the checks every field gets.
///
/// The messages it produces name the field and the rule, never the value.
struct FieldReader {
    let object: [String: JSONValue]
    let id: String?
    let operation: WireOperation
    /// Put before field names in messages, for objects nested in a request
    /// (`tokens[0].`).
    var prefix = ""

    func failure(_ message: String) -> RequestError {
        RequestError(.badRequest, message, id: id, operation: operation)
    }

    /// A present, non-null field; JSON null counts as absent so that clients which
    /// write `nil` as `null` behave like clients that leave the field out.
    private func value(_ name: String) -> JSONValue? {
        guard let value = object[name], value != .null else { return nil }
        return value
    }

    func requiredString(_ name: String, bytes: ClosedRange<Int>) throws(RequestError) -> String {
        guard let string = try string(name, bytes: bytes) else {
            throw failure("missing required field '\(prefix)\(name)'")
        }
        return string
    }

    func string(_ name: String, bytes: ClosedRange<Int>) throws(RequestError) -> String? {
        guard let value = value(name) else { return nil }
        guard case .string(let string) = value, bytes.contains(string.utf8.count) else {
            throw failure("field '\(prefix)\(name)' must be a string of \(Self.describe(bytes)) bytes")
        }
        guard !string.containsControlCharacters else {
            throw failure("field '\(prefix)\(name)' must not contain control characters")
        }
        return string
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(RequestError) -> Int? {
        guard let value = value(name) else { return nil }
        guard case .integer(let integer) = value, integer >= range.lowerBound, integer <= range.upperBound else {
            throw failure("field '\(prefix)\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(integer)
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, of type: T.Type) throws(RequestError) -> T?
    where T.RawValue == String {
        guard let value = value(name) else { return nil }
        guard case .string(let string) = value, let choice = T(rawValue: string) else {
            let names = T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw failure("field '\(prefix)\(name)' must be one of \(names)")
        }
        return choice
    }

    /// A time given as an RFC 3339 UTC string or as non-negative Unix seconds.
    func time(_ name: String) throws(RequestError) -> Timestamp? {
        guard let value = value(name) else { return nil }
        switch value {
        case .string(let string):
            if let timestamp = Timestamp(rfc3339: string) { return timestamp }
        case .integer(let seconds) where seconds >= 0 && seconds <= RFC3339.maxSeconds:
            return Timestamp(unixSeconds: seconds)
        default:
            break
        }
        throw failure(
            "field '\(prefix)\(name)' must be an RFC 3339 UTC time like 2026-11-21T15:40:46Z or non-negative Unix seconds")
    }

    func bool(_ name: String) throws(RequestError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard case .bool(let bool) = value else { throw failure("field '\(prefix)\(name)' must be true or false") }
        return bool
    }

    func array(_ name: String, count: ClosedRange<Int>) throws(RequestError) -> [JSONValue]? {
        guard let value = value(name) else { return nil }
        guard case .array(let items) = value, count.contains(items.count) else {
            throw failure("field '\(prefix)\(name)' must be an array of \(count.lowerBound) to \(count.upperBound) items")
        }
        return items
    }

    private static func describe(_ bytes: ClosedRange<Int>) -> String {
        bytes.lowerBound == 0 ? "at most \(bytes.upperBound)" : "\(bytes.lowerBound) to \(bytes.upperBound)"
    }
}
