extension Request {
    /// Parses one request line (without its "\n"; a trailing "\r" or other JSON
    /// whitespace is tolerated).
    ///
    /// Checks run in a fixed order, and the first failure is the one reported: size,
    /// UTF-8, JSON, object, `v`, `op`, `id`, then the operation's fields in the order of
    /// the protocol table. Members the operation does not define are ignored, so newer
    /// clients can send optional fields to older daemons.
    /// Whether `bytes` are well-formed UTF-8, as `String(validating:as:)` decides it,
    /// without making the String.
    static func isValidUTF8(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    public static func parse(line: some Collection<UInt8>) throws(RequestError) -> Request {
        guard line.count <= ProtocolLimits.maxRequestLineBytes else { throw RequestError.lineTooLong }
        // Checked and parsed where the line is, without a copy of it in an array or a
        // String: the line carries codes and imported secrets, and its buffer is
        // wiped after parsing, which copies would escape.
        guard Self.isValidUTF8(line) else {
            throw RequestError(.badRequest, "request line is not valid UTF-8", closesConnection: true)
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(line)
        } catch {
            throw RequestError(.badRequest, "request line is not valid JSON", closesConnection: true)
        }
        guard case .object(let object) = value else {
            throw RequestError(
                .badRequest, "request must be a JSON object, not \(aOrAn(value.typeName))", closesConnection: true)
        }
        return try parse(object: object)
    }

    /// The checks after the framing: `v`, `op`, `id`, then the operation's fields. For
    /// a request that arrived inside another object (a relay's envelope).
    static func parse(object: [String: JSONValue]) throws(RequestError) -> Request {
        // Read first so that errors about `v` and `op` can already echo it. An invalid id
        // is reported after those two: a later version may allow other kinds of id.
        let validID: String? =
            if case .string(let id) = object["id"], id.utf8.count <= ProtocolLimits.maxRequestIDBytes,
                !id.containsControlCharacters
            { id } else { nil }

        try checkVersion(object["v"], id: validID)
        let operation = try readOperation(object["op"], id: validID)
        if let value = object["id"], value != .null, validID == nil {
            throw RequestError(
                .badRequest,
                "field 'id' must be a string of at most \(ProtocolLimits.maxRequestIDBytes) bytes"
                    + " without control characters",
                operation: operation)
        }

        let fields = FieldReader(object: object, id: validID, operation: operation)
        return Request(id: validID, payload: try Payload(operation, reading: fields))
    }

    private static func checkVersion(_ value: JSONValue?, id: String?) throws(RequestError) {
        let speaks = "this daemon speaks protocol version \(ProtocolLimits.version)"
        switch value {
        case nil, .null?:
            throw RequestError(.unsupportedVersion, "missing field 'v'; \(speaks)", id: id)
        case .integer(let version)? where version == ProtocolLimits.version:
            return
        case .integer(let version)?:
            throw RequestError(.unsupportedVersion, "protocol version \(version) is not supported; \(speaks)", id: id)
        case .some:
            throw RequestError(.unsupportedVersion, "field 'v' must be an integer; \(speaks)", id: id)
        }
    }

    private static func readOperation(_ value: JSONValue?, id: String?) throws(RequestError) -> WireOperation {
        guard let value, value != .null else {
            throw RequestError(.badRequest, "missing required field 'op'", id: id)
        }
        guard case .string(let name) = value else {
            throw RequestError(.badRequest, "field 'op' must be a string", id: id)
        }
        guard let operation = WireOperation(rawValue: name) else {
            // The name helps whoever debugs a client, but only if it is short and
            // printable: it goes into logs.
            let printable =
                name.utf8.count <= 64
                && name.unicodeScalars.allSatisfy { $0.isASCII && $0 != "'" } && !name.containsControlCharacters
            throw RequestError(.unknownOp, printable ? "unknown op '\(name)'" : "unknown op", id: id)
        }
        return operation
    }

    private static func aOrAn(_ noun: String) -> String {
        switch noun {
        case "null": "null"
        case "array", "object": "an \(noun)"
        default: "a \(noun)"
        }
    }
}
