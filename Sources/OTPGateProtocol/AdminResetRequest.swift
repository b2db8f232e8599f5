/// `admin.reset`: remove every token, pending enrolment and recovery code of `user`.
public struct AdminResetRequest: Sendable, Hashable {
    public var user: String

    public init(user: String) {
        self.user = user
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
    }

    var fields: [String: JSONValue] { ["user": .string(user)] }
}
