/// `status`: what factors `user` has, without any secret.
public struct StatusRequest: Sendable, Hashable {
    public var user: String

    public init(user: String) {
        self.user = user
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
    }

    var fields: [String: JSONValue] { ["user": .string(user)] }
}
