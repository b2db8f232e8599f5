/// How verify requests were answered.
struct Outcomes: Sendable {
    var accepted = 0
    var invalid = 0
    var replayed = 0
    var rateLimited = 0
    var otherErrors = 0
    /// Answers that differ from what the request should have got (a valid code
    /// refused, a wrong one accepted...): should be zero.
    var unexpected = 0
    var total: Int { accepted + invalid + replayed + rateLimited + otherErrors }

    static func + (a: Outcomes, b: Outcomes) -> Outcomes {
        Outcomes(
            accepted: a.accepted + b.accepted, invalid: a.invalid + b.invalid, replayed: a.replayed + b.replayed,
            rateLimited: a.rateLimited + b.rateLimited, otherErrors: a.otherErrors + b.otherErrors,
            unexpected: a.unexpected + b.unexpected)
    }
}
