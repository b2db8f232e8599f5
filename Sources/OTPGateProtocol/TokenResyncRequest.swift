/// `token.resync`: find where a token's codes are now (a clock that drifted far, a
/// hardware token pressed many times) from consecutive codes, and move the token
/// there. Forward only: never back past the last accepted step or counter.
///
/// On the public socket a user may resync only their own tokens.
public struct TokenResyncRequest: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    /// The token's id or name; may be left out when the user has one token.
    public var token: String?
    /// Consecutive codes as the device shows them: two for TOTP, three for HOTP.
    public var codes: [String]

    public init(user: String, token: String? = nil, codes: [String]) {
        self.user = user
        self.token = token
        self.codes = codes
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        token = try fields.string("token", bytes: 1...ProtocolLimits.maxTokenNameBytes)
        var codes: [String] = []
        for value in try fields.array("codes", count: 2...3) ?? [] {
            guard case .string(let code) = value, code.utf8.count <= ProtocolLimits.maxCodeBytes else {
                throw fields.failure("field 'codes' must hold strings of at most \(ProtocolLimits.maxCodeBytes) bytes")
            }
            codes.append(code)
        }
        guard !codes.isEmpty else { throw fields.failure("missing required field 'codes'") }
        self.codes = codes
    }

    var fields: [String: JSONValue] {
        var f: [String: JSONValue] = ["user": .string(user), "codes": .array(codes.map(JSONValue.string))]
        f["token"] = token.map(JSONValue.string)
        return f
    }

    public var description: String {
        "token.resync(user: \(user)" + (token.map { ", token: \($0)" } ?? "") + ", codes: <withheld>)"
    }
}
