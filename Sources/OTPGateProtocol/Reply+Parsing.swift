extension Reply {
    /// Parses one reply line (without its "\n"), as a client reads it from the socket.
    ///
    /// The envelope is checked strictly; result fields are kept as they are and checked
    /// by `result(_:)`, so a client ignores fields it does not know.
    public static func parse(line: some Collection<UInt8>) throws(ReplyDecodingError) -> Reply {
        guard line.count <= ProtocolLimits.maxReplyLineBytes else {
            throw ReplyDecodingError(.oversize, "reply line exceeds \(ProtocolLimits.maxReplyLineBytes) bytes")
        }
        let bytes = Array(line)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ReplyDecodingError(.malformed, "reply line is not valid UTF-8")
        }
        guard case .object(var object)? = try? JSONValue.parse(bytes) else {
            throw ReplyDecodingError(.malformed, "reply line is not a JSON object")
        }
        guard case .integer(let version)? = object["v"] else {
            throw ReplyDecodingError(.malformed, "reply has no integer field 'v'")
        }
        guard version == ProtocolLimits.version else {
            throw ReplyDecodingError(.unsupportedVersion, "reply has protocol version \(version), expected 1")
        }
        let id: String?
        switch object["id"] {
        case nil, .null?: id = nil
        case .string(let string)?: id = string
        default: throw ReplyDecodingError(.malformed, "reply field 'id' is not a string")
        }
        guard case .bool(let ok)? = object["ok"] else {
            throw ReplyDecodingError(.malformed, "reply has no boolean field 'ok'")
        }
        if ok {
            for key in successEnvelopeKeys { object[key] = nil }
            return Reply(id: id, outcome: .success(object))
        }

        guard case .string(let code)? = object["error"] else {
            throw ReplyDecodingError(.malformed, "failure reply has no string field 'error'")
        }
        guard case .string(let message)? = object["message"] else {
            throw ReplyDecodingError(.malformed, "failure reply has no string field 'message'")
        }
        let retryAfter: Int?
        switch object["retry_after"] {
        case nil, .null?: retryAfter = nil
        case .integer(let seconds)? where seconds >= 0 && seconds <= Int64(Int32.max): retryAfter = Int(seconds)
        default: throw ReplyDecodingError(.malformed, "failure reply field 'retry_after' is not a non-negative integer")
        }
        return Reply(
            id: id,
            outcome: .failure(ReplyFailure(rawCode: code, message: message, retryAfter: retryAfter, fields: object)))
    }
}
