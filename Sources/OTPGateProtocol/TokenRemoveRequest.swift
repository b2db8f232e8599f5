/// `token.remove`: delete one token of `user`.
public struct TokenRemoveRequest: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    /// The token's `id` as listed by `status`.
    public var token: String
    /// A current code: required on the public socket, not needed on the admin socket.
    /// The parser leaves that rule to the daemon, which knows the socket.
    public var code: String?

    public init(user: String, token: String, code: String? = nil) {
        self.user = user
        self.token = token
        self.code = code
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        token = try fields.requiredString("token", bytes: 1...ProtocolLimits.maxTokenIDBytes)
        code = try fields.string("code", bytes: 0...ProtocolLimits.maxCodeBytes)
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["user": .string(user), "token": .string(token)]
        fields["code"] = code.map(JSONValue.string)
        return fields
    }

    public var description: String {
        "token.remove(user: \(user), token: \(token)" + (code == nil ? ")" : ", code: <withheld>)")
    }
}
