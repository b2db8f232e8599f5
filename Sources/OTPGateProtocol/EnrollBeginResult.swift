/// The result of `enroll.begin`: the new secret, shown once, and how long it may wait.
public struct EnrollBeginResult: ReplyResult, Hashable, CustomStringConvertible {
    /// The id to pass to `enroll.confirm` or `enroll.cancel`.
    public var enrollment: String
    /// Base32, no padding.
    public var secret: String
    /// otpauth:// URI for QR codes; contains the secret.
    public var uri: String
    public var expiresAt: Timestamp

    public init(enrollment: String, secret: String, uri: String, expiresAt: Timestamp) {
        self.enrollment = enrollment
        self.secret = secret
        self.uri = uri
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case enrollment, secret, uri
        case expiresAt = "expires_at"
    }

    public var description: String {
        "enrollment \(enrollment) expiring \(expiresAt) (secret and uri withheld)"
    }
}
