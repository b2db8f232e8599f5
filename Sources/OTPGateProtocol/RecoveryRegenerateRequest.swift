/// `recovery.regenerate`: replace all recovery codes of `user` with ten new ones.
public struct RecoveryRegenerateRequest: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    /// A current code: required on the public socket, not needed on the admin socket.
    public var code: String?

    public init(user: String, code: String? = nil) {
        self.user = user
        self.code = code
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        code = try fields.string("code", bytes: 0...ProtocolLimits.maxCodeBytes)
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["user": .string(user)]
        fields["code"] = code.map(JSONValue.string)
        return fields
    }

    public var description: String {
        "recovery.regenerate(user: \(user)" + (code == nil ? ")" : ", code: <withheld>)")
    }
}
