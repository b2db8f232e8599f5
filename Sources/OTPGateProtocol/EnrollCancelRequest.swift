/// `enroll.cancel`: drop a pending enrolment (and its secret) before it expires.
public struct EnrollCancelRequest: Sendable, Hashable {
    public var user: String
    public var enrollment: String

    public init(user: String, enrollment: String) {
        self.user = user
        self.enrollment = enrollment
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        enrollment = try fields.requiredString("enrollment", bytes: 1...ProtocolLimits.maxEnrollmentIDBytes)
    }

    var fields: [String: JSONValue] {
        ["user": .string(user), "enrollment": .string(enrollment)]
    }
}
