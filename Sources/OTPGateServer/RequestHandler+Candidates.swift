import OTPGateProtocol

extension RequestHandler {
    /// `verify.candidates`: the tails of one typed string that may be a code, checked
    /// as one attempt (see `checkCandidates`).
    func verifyCandidates(_ r: VerifyCandidatesRequest, id: String?, peer: Peer, now: Int64) throws -> Reply {
        let (outcome, index) = try checkCandidates(
            r.codes, user: r.user, peer: peer, context: Context(service: r.service, rhost: r.rhost, tty: r.tty), now: now)
        logOutcome(outcome, user: r.user, peer: peer, service: r.service, rhost: r.rhost)
        return reply(for: outcome, user: r.user, id: id, now: now) {
            .success(
                id: id,
                result: VerifyCandidatesResult(candidate: index ?? 0, factor: $0, token: $1, recoveryRemaining: $2))
        }
    }
}
