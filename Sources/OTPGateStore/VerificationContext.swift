/// What checking a code for one user needs, read from one snapshot of the store.
public struct VerificationContext: Sendable {
    /// The user's tokens with their secrets, oldest first; empty when not enrolled.
    public let tokens: [VerifiableToken]
    /// Unused recovery codes. Accepting a one-time code does not change it.
    public let recoveryRemaining: Int
    /// The user's row id, nil for a user the store does not know.
    let userID: Int64?
    /// The limiter rows as of this snapshot: what `reserveAttempt` loads a counter
    /// from when it holds none for the user. A later commit cannot make them too
    /// low: every failure is recorded in memory before its reservation ends.
    let storedCounters: [String: AttemptLimiter.Stored]
}
