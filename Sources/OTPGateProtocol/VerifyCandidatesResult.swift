/// The result of a successful `verify.candidates`: that of `verify`, plus which
/// candidate matched.
public struct VerifyCandidatesResult: ReplyResult, Hashable {
    /// Index into the request's `codes` of the one that was accepted.
    public var candidate: Int
    public var factor: Factor
    public var token: String?
    public var recoveryRemaining: Int

    public init(candidate: Int, factor: Factor, token: String?, recoveryRemaining: Int) {
        self.candidate = candidate
        self.factor = factor
        self.token = token
        self.recoveryRemaining = recoveryRemaining
    }

    enum CodingKeys: String, CodingKey {
        case candidate, factor, token
        case recoveryRemaining = "recovery_remaining"
    }
}
