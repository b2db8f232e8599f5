/// The result of `enroll.confirm`: the token now exists.
public struct EnrollConfirmResult: ReplyResult, Hashable, CustomStringConvertible {
    /// The new token's id.
    public var token: String
    public var name: String
    /// Ten fresh recovery codes, only when the user had none; shown once.
    public var recoveryCodes: [String]?

    public init(token: String, name: String, recoveryCodes: [String]? = nil) {
        self.token = token
        self.name = name
        self.recoveryCodes = recoveryCodes
    }

    enum CodingKeys: String, CodingKey {
        case token, name
        case recoveryCodes = "recovery_codes"
    }

    public var description: String {
        "token \(token) (\(name))" + (recoveryCodes.map { ", \($0.count) recovery codes withheld" } ?? "")
    }
}
