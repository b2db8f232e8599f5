/// `enroll.begin`: create a pending token and hand its secret out once.
///
/// Every parameter is optional; the daemon fills in its configured defaults.
public struct EnrollBeginRequest: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var name: String?
    public var kind: TokenKind?
    public var algorithm: TokenAlgorithm?
    public var digits: Int?
    /// TOTP step in seconds; rejected together with `kind` `hotp`.
    public var period: Int?
    /// A current code of an existing token: needed when the user is already enrolled.
    public var code: String?

    public init(
        user: String, name: String? = nil, kind: TokenKind? = nil, algorithm: TokenAlgorithm? = nil,
        digits: Int? = nil, period: Int? = nil, code: String? = nil
    ) {
        self.user = user
        self.name = name
        self.kind = kind
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.code = code
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        name = try fields.string("name", bytes: 1...ProtocolLimits.maxTokenNameBytes)
        kind = try fields.choice("kind", of: TokenKind.self)
        algorithm = try fields.choice("algorithm", of: TokenAlgorithm.self)
        digits = try fields.integer("digits", in: ProtocolLimits.digits)
        period = try fields.integer("period", in: ProtocolLimits.period)
        code = try fields.string("code", bytes: 0...ProtocolLimits.maxCodeBytes)
        if period != nil && kind == .hotp {
            throw fields.failure("field 'period' applies only to kind 'totp'")
        }
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["user": .string(user)]
        fields["name"] = name.map(JSONValue.string)
        fields["kind"] = kind.map { .string($0.rawValue) }
        fields["algorithm"] = algorithm.map { .string($0.rawValue) }
        fields["digits"] = digits.map { .integer(Int64($0)) }
        fields["period"] = period.map { .integer(Int64($0)) }
        fields["code"] = code.map(JSONValue.string)
        return fields
    }

    public var description: String {
        let parameters = [
            "user: \(user)", name.map { "name: \($0)" }, kind.map { "kind: \($0.rawValue)" },
            algorithm.map { "algorithm: \($0.rawValue)" }, digits.map { "digits: \($0)" },
            period.map { "period: \($0)" }, code.map { _ in "code: <withheld>" },
        ]
        return "enroll.begin(" + parameters.compactMap { $0 }.joined(separator: ", ") + ")"
    }
}
