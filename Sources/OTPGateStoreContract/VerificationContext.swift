/// What checking a code for one user needs, read from one snapshot of the store.
public struct VerificationContext: Sendable {
    /// The user's tokens with their secrets, oldest first; empty when not enrolled.
    public let tokens: [VerifiableToken]
    /// Unused recovery codes. Accepting a one-time code does not change it.
    public let recoveryRemaining: Int
    /// The time (Unix seconds) to check codes at: the caller's `now` for a store on
    /// this host, the database's clock for a shared one, so that every node of a tier
    /// agrees on the TOTP step.
    public let time: Int64
    /// The backend's own id of the user, nil for a user it does not know.
    package let userID: Int64?
    /// What the backend read beside the tokens for its limiter (opaque to the caller).
    package let limiterSnapshot: (any Sendable)?

    package init(tokens: [VerifiableToken], recoveryRemaining: Int, time: Int64, userID: Int64?, limiterSnapshot: (any Sendable)?) {
        self.tokens = tokens
        self.recoveryRemaining = recoveryRemaining
        self.time = time
        self.userID = userID
        self.limiterSnapshot = limiterSnapshot
    }
}
