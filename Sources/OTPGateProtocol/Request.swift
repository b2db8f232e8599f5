/// One request of protocol v1, parsed and checked: every field present, of the right
/// JSON type, in range. What the caller may do is not decided here (that needs the
/// socket and the peer's credentials), only what was asked.
public struct Request: Sendable, Hashable, CustomStringConvertible {
    /// Chosen by the client and echoed in the reply, so it can match the two.
    public var id: String?
    public var payload: Payload

    public init(id: String? = nil, payload: Payload) {
        self.id = id
        self.payload = payload
    }

    public var operation: WireOperation { payload.operation }

    /// The request as one line of JSON ending in "\n", ready to write to the socket.
    /// Keys are sorted, so equal requests give equal lines.
    public var line: String {
        var object = payload.fields
        object["v"] = .integer(Int64(ProtocolLimits.version))
        object["op"] = .string(operation.rawValue)
        object["id"] = id.map(JSONValue.string)
        return JSONValue.object(object).jsonText + "\n"
    }

    public var description: String {
        (id.map { "[\($0)] " } ?? "") + payload.description
    }
}
