/// The result of `status`: a user's factors, without any secret.
public struct StatusResult: ReplyResult, Hashable {
    /// One token as listed by `status`.
    public struct Token: Codable, Sendable, Hashable {
        /// Stable id: what `token.remove` takes.
        public var id: String
        public var name: String
        public var kind: TokenKind
        public var algorithm: TokenAlgorithm
        public var digits: Int
        /// TOTP step in seconds; nil for HOTP.
        public var period: Int?
        public var createdAt: Timestamp
        public var lastUsedAt: Timestamp?
        /// Steps (TOTP) or counters (HOTP) between the expected and the matched one at
        /// the last accepted code or resync; nil when 0.
        public var drift: Int?
        /// TOTP: the step offset the window is centred on, from an import or a resync;
        /// nil when 0.
        public var skew: Int?

        public init(
            id: String, name: String, kind: TokenKind, algorithm: TokenAlgorithm, digits: Int, period: Int?,
            createdAt: Timestamp, lastUsedAt: Timestamp?, drift: Int? = nil, skew: Int? = nil
        ) {
            self.drift = drift
            self.skew = skew
            self.id = id
            self.name = name
            self.kind = kind
            self.algorithm = algorithm
            self.digits = digits
            self.period = period
            self.createdAt = createdAt
            self.lastUsedAt = lastUsedAt
        }

        enum CodingKeys: String, CodingKey {
            case id, name, kind, algorithm, digits, period, drift, skew
            case createdAt = "created_at"
            case lastUsedAt = "last_used_at"
        }
    }

    /// An enrolment begun but not yet confirmed. Its id is not shown: together with
    /// the secret it is what confirms the enrolment.
    public struct PendingEnrollment: Codable, Sendable, Hashable {
        public var name: String
        public var kind: TokenKind
        public var createdAt: Timestamp
        public var expiresAt: Timestamp
        /// Begun while the user had no token, so without a current code: it can no
        /// longer be confirmed once the user has a token.
        public var begunWithoutCode: Bool

        public init(name: String, kind: TokenKind, createdAt: Timestamp, expiresAt: Timestamp, begunWithoutCode: Bool) {
            self.name = name
            self.kind = kind
            self.createdAt = createdAt
            self.expiresAt = expiresAt
            self.begunWithoutCode = begunWithoutCode
        }

        enum CodingKeys: String, CodingKey {
            case name, kind
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case begunWithoutCode = "begun_without_code"
        }
    }

    public var user: String
    public var enrolled: Bool
    /// Whether policy demands a second factor of this user.
    public var required: Bool
    public var tokens: [Token]
    public var recoveryRemaining: Int
    /// Seconds until the limiter lets this user try again; nil when not limited.
    public var retryAfter: Int?
    /// Imported google-authenticator scratch codes left; nil when none.
    public var scratchRemaining: Int?
    /// Unexpired enrolments not yet confirmed (empty from a daemon that predates it).
    public var pendingEnrollments: [PendingEnrollment]

    public init(
        user: String, enrolled: Bool, required: Bool, tokens: [Token], recoveryRemaining: Int, retryAfter: Int? = nil,
        pendingEnrollments: [PendingEnrollment] = []
    ) {
        self.user = user
        self.enrolled = enrolled
        self.required = required
        self.tokens = tokens
        self.recoveryRemaining = recoveryRemaining
        self.retryAfter = retryAfter
        self.pendingEnrollments = pendingEnrollments
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decode(String.self, forKey: .user)
        enrolled = try c.decode(Bool.self, forKey: .enrolled)
        required = try c.decode(Bool.self, forKey: .required)
        tokens = try c.decode([Token].self, forKey: .tokens)
        recoveryRemaining = try c.decode(Int.self, forKey: .recoveryRemaining)
        retryAfter = try c.decodeIfPresent(Int.self, forKey: .retryAfter)
        pendingEnrollments = try c.decodeIfPresent([PendingEnrollment].self, forKey: .pendingEnrollments) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case user, enrolled, required, tokens
        case recoveryRemaining = "recovery_remaining"
        case retryAfter = "retry_after"
        case scratchRemaining = "scratch_remaining"
        case pendingEnrollments = "pending_enrollments"
    }
}
