/// The result of `verify.precheck`.
public struct VerifyPrecheckResult: ReplyResult, Hashable {
    /// Why a code is or is not needed.
    public enum Reason: String, Codable, Sendable, Hashable, CaseIterable {
        /// The user has a token: a code is needed.
        case enrolled
        /// No token. `required` says whether policy wants one (then a code is needed,
        /// which the user cannot give: the login fails).
        case notEnrolled = "not_enrolled"
        /// No token, policy requires one, but the enrolment deadline has not passed:
        /// no code is needed until `enroll_by`.
        case enrollmentPending = "enrollment_pending"
        /// A code from this remote host was accepted within the grace period.
        case grace
    }

    public var needsCode: Bool
    public var reason: Reason
    public var required: Bool
    /// With `enrollment_pending`: the deadline.
    public var enrollBy: Timestamp?
    /// With `grace`: when the grace period ends.
    public var graceUntil: Timestamp?

    public init(needsCode: Bool, reason: Reason, required: Bool, enrollBy: Timestamp? = nil, graceUntil: Timestamp? = nil) {
        self.needsCode = needsCode
        self.reason = reason
        self.required = required
        self.enrollBy = enrollBy
        self.graceUntil = graceUntil
    }

    enum CodingKeys: String, CodingKey {
        case reason, required
        case needsCode = "needs_code"
        case enrollBy = "enroll_by"
        case graceUntil = "grace_until"
    }
}
