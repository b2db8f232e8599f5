/// The result of a successful `verify`.
public struct VerifyResult: ReplyResult, Hashable {
    public var factor: Factor
    /// The name of the token that matched; nil for a recovery code.
    public var token: String?
    /// Unused recovery codes left after this one.
    public var recoveryRemaining: Int

    public init(factor: Factor, token: String?, recoveryRemaining: Int) {
        self.factor = factor
        self.token = token
        self.recoveryRemaining = recoveryRemaining
    }

    enum CodingKeys: String, CodingKey {
        case factor, token
        case recoveryRemaining = "recovery_remaining"
    }
}
