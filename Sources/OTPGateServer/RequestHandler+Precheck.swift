import Logging
import OTPGateProtocol
import OTPGateStoreContract

extension RequestHandler {
    /// `verify.precheck`: whether this login needs a code. Read-only, except that a
    /// granted grace login and a login let through before the enrolment deadline are
    /// audited (for privileged callers only, so an unprivileged caller cannot make the
    /// daemon write).
    ///
    /// A grace period is honoured only for a caller with uid 0 (the PAM path: sshd,
    /// sudo and login run it as root) that names a remote host: an unprivileged caller
    /// can claim any `rhost`. It is never honoured while the user is rate-limited.
    func verifyPrecheck(_ r: VerifyPrecheckRequest, id: String?, peer: Peer, now: Int64) throws -> Reply {
        let rhost = peer.limiterHost(r.rhost)
        let state = try store.precheckState(user: r.user, rhost: rhost, now: now)
        let result: VerifyPrecheckResult
        if !state.enrolled {
            let required = isRequired(r.user)
            if required, let deadline = config.enrollmentDeadline, now < deadline {
                result = VerifyPrecheckResult(
                    needsCode: false, reason: .enrollmentPending, required: true,
                    enrollBy: Timestamp(unixSeconds: deadline))
                if peer.uid == 0 {
                    try store.appendAudit(audit(
                        "verify.enrollment_pending", user: r.user, peer: peer, now: now, service: r.service, rhost: rhost,
                        detail: "no token; to enrol by \(RFC3339.format(deadline))"))
                }
            } else {
                // After the deadline a required user needs a code it cannot have: the
                // module prompts, and verify refuses (verify.not_enrolled).
                result = VerifyPrecheckResult(needsCode: required, reason: .notEnrolled, required: required)
            }
        } else if let until = graceUntil(state, request: r, rhost: rhost, peer: peer, now: now) {
            result = VerifyPrecheckResult(
                needsCode: false, reason: .grace, required: isRequired(r.user), graceUntil: Timestamp(unixSeconds: until))
            try store.appendAudit(audit(
                "verify.grace", user: r.user, peer: peer, now: now, service: r.service, rhost: rhost,
                detail: "code accepted from this host at \(RFC3339.format(state.graceGrantedAt ?? now))"))
            logger.notice(
                "authentication",
                metadata: [
                    "user.name": "\(r.user)", "peer.uid": "\(peer.uid)", "peer.pid": "\(peer.pid)",
                    "request.service": "\(r.service ?? "-")", "request.rhost": "\(rhost ?? "-")",
                    "auth.outcome": "grace",
                ])
        } else {
            result = VerifyPrecheckResult(needsCode: true, reason: .enrolled, required: isRequired(r.user))
        }
        return .success(id: id, result: result)
    }

    /// When the grace period of this login ends, if it is within one.
    private func graceUntil(
        _ state: PrecheckState, request r: VerifyPrecheckRequest, rhost: String?, peer: Peer, now: Int64
    ) -> Int64? {
        let period = Int64(min(r.gracePeriod, config.maxGracePeriod))
        guard period > 0, rhost != nil, peer.uid == 0, state.limit == .open, let granted = state.graceGrantedAt,
            granted <= now, now - granted < period
        else { return nil }
        return granted + period
    }
}
