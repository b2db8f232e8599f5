/// `enroll.confirm`: prove the authenticator works by sending its first code.
public struct EnrollConfirmRequest: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    /// The `enrollment` id from the `enroll.begin` reply.
    public var enrollment: String
    public var code: String

    public init(user: String, enrollment: String, code: String) {
        self.user = user
        self.enrollment = enrollment
        self.code = code
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        enrollment = try fields.requiredString("enrollment", bytes: 1...ProtocolLimits.maxEnrollmentIDBytes)
        code = try fields.requiredString("code", bytes: 0...ProtocolLimits.maxCodeBytes)
    }

    var fields: [String: JSONValue] {
        ["user": .string(user), "enrollment": .string(enrollment), "code": .string(code)]
    }

    public var description: String {
        "enroll.confirm(user: \(user), enrollment: \(enrollment), code: <withheld>)"
    }
}
