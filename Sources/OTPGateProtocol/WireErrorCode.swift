/// The stable error codes of a failure reply (`"error"`).
///
/// Programs branch on these; the accompanying `message` is for people and may change.
public enum WireErrorCode: String, Sendable, Hashable, CaseIterable, Codable {
    /// The request is malformed: framing, JSON, a missing field, a wrong type or range.
    case badRequest = "bad_request"
    /// `v` is missing, not an integer, or a version this daemon does not speak.
    case unsupportedVersion = "unsupported_version"
    /// `op` is a string that names no operation.
    case unknownOp = "unknown_op"
    /// The caller may not perform this operation on this socket or for this user.
    case forbidden
    /// The user has no token; the reply says in `required` whether one is mandatory.
    case notEnrolled = "not_enrolled"
    case invalidCode = "invalid_code"
    /// The code was right but already used (or an older one was accepted since).
    case replayedCode = "replayed_code"
    /// Too many failures: wait `retry_after` seconds, or for an admin unlock.
    case rateLimited = "rate_limited"
    /// The enrolment named does not exist (or belongs to someone else).
    case noEnrollment = "no_enrollment"
    case enrollmentExpired = "enrollment_expired"
    /// The change clashes with the current state, e.g. a duplicate token name.
    case conflict
    /// The daemon cannot serve now: store or key fault. Never treat as success.
    case unavailable
    case `internal`
}
