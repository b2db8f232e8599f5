/// The result of `admin.list`: one row per user known to the store.
public struct AdminListResult: ReplyResult, Hashable {
    public struct User: Codable, Sendable, Hashable {
        public var user: String
        /// Number of tokens.
        public var tokens: Int
        public var recoveryRemaining: Int
        /// Consecutive failures counted by the limiter.
        public var failures: Int
        /// End of the current backoff; nil when none.
        public var lockedUntil: Timestamp?
        /// Locked out until an admin unlock (the failure cap was reached).
        public var lockedOut: Bool
        public var lastUsedAt: Timestamp?

        public init(
            user: String, tokens: Int, recoveryRemaining: Int, failures: Int, lockedUntil: Timestamp?,
            lockedOut: Bool, lastUsedAt: Timestamp?
        ) {
            self.user = user
            self.tokens = tokens
            self.recoveryRemaining = recoveryRemaining
            self.failures = failures
            self.lockedUntil = lockedUntil
            self.lockedOut = lockedOut
            self.lastUsedAt = lastUsedAt
        }

        enum CodingKeys: String, CodingKey {
            case user, tokens, failures
            case recoveryRemaining = "recovery_remaining"
            case lockedUntil = "locked_until"
            case lockedOut = "locked_out"
            case lastUsedAt = "last_used_at"
        }
    }

    public var users: [User]

    public init(users: [User]) {
        self.users = users
    }
}
