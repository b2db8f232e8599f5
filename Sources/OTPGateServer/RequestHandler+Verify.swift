import Logging
import OTPCore
import OTPGateProtocol
import OTPGateStoreContract

extension RequestHandler {
    /// How checking one code for one user ended.
    enum CodeOutcome: Equatable {
        case accepted(factor: Factor, token: String?, recoveryRemaining: Int)
        case notEnrolled
        case limited(LimitState)
        case replayed
        case invalid
    }

    struct Context {
        var service: String?
        var rhost: String?
        var tty: String?
    }

    /// The heart of otpgate: checks `code` for `user` against every token, then the
    /// recovery codes; commits the outcome (watermark, limiter, audit) before
    /// returning. The limiter admits and reserves the attempt before anything is
    /// evaluated (so parallel sessions get no more guesses than the policy allows),
    /// and a rate-limited user's code is not evaluated at all.
    func checkCode(_ code: String, user: String, peer: Peer, context: Context, now: Int64) throws -> CodeOutcome {
        try checkCandidates([code], user: user, peer: peer, context: context, now: now).outcome
    }

    /// `checkCode` for several candidates as one attempt (`verify.candidates`): each is
    /// tried against every token, then the first one shaped like a recovery code (at
    /// most one slow hash) against the recovery codes, then the first shaped like an
    /// imported scratch code; the first match wins and is returned with its index; if
    /// none matches, one failure is counted (one reservation covers them all).
    func checkCandidates(
        _ codes: [String], user: String, peer: Peer, context: Context, now: Int64
    ) throws -> (outcome: CodeOutcome, index: Int?) {
        let rhost = peer.limiterHost(context.rhost)
        // One read snapshot for the tokens, the recovery count and the limiter rows.
        let snapshot = try store.verificationContext(user: user, rhost: rhost, now: now)
        let tokens = snapshot.tokens
        // Codes are checked at the store's time: one clock for every node of a tier.
        let codeTime = snapshot.time
        // The decrypted secrets are needed only for this attempt.
        defer { tokens.forEach { $0.secret.wipeSharedStorage() } }
        let recoveryIndex = codes.firstIndex(where: RecoveryCode.isWellFormed)
        guard !tokens.isEmpty else {
            // The work of an enrolled user's wrong guess, so that time does not tell
            // the two apart (DESIGN: indistinguishable timing): the guess is checked
            // against a stand-in token, a recovery-shaped one costs the same scrypt
            // run (the store charges one to a user without codes), and the audit
            // event commits with the same writes as a counted failure.
            var shadow: AttemptReservation?
            if case .admitted(let r) = try store.reserveAttempt(user: user, rhost: rhost, now: now, context: snapshot) { shadow = r }
            defer { shadow?.release() }
            for code in codes {
                for token in try store.decoyTokens() { _ = try? evaluate(code, token, now: codeTime) }
            }
            if let recoveryIndex { _ = try store.consumeRecoveryCode(user: user, input: codes[recoveryIndex], rhost: rhost, now: now) }
            try store.recordNotEnrolled(
                user: user, rhost: rhost, now: now,
                audit: audit("verify.not_enrolled", user: user, peer: peer, now: now, service: context.service, rhost: rhost),
                reservation: shadow)
            return (.notEnrolled, nil)
        }
        let reservation: AttemptReservation
        switch try store.reserveAttempt(user: user, rhost: rhost, now: now, context: snapshot) {
        case .refused(let state):
            try store.appendAudit(audit("verify.limited", user: user, peer: peer, now: now, service: context.service, rhost: rhost))
            return (.limited(state), nil)
        case .admitted(let r):
            reservation = r
        }
        defer { reservation.release() }

        var sawReplay = false
        for (index, code) in codes.enumerated() {
            for token in tokens {
                let params = token.info.parameters
                switch try evaluate(code, token, now: codeTime) {
                case .accepted(let counter, let offset):
                    let drift = offset + (params.kind == .totp ? token.info.skew : 0)
                    let event = audit(
                        "verify.ok", user: user, peer: peer, now: now, service: context.service, rhost: rhost,
                        detail: "\(params.kind.rawValue) token \(token.info.name), drift \(drift)")
                    switch try store.acceptCode(
                        user: user, tokenID: token.info.id, counter: counter, drift: drift, rhost: rhost, now: now, audit: event,
                        reservation: reservation)
                    {
                    case .accepted:
                        // Accepting a one-time code leaves the recovery codes as they were.
                        return (
                            .accepted(
                                factor: params.kind == .totp ? .totp : .hotp, token: token.info.name,
                                recoveryRemaining: snapshot.recoveryRemaining), index)
                    case .replayed:
                        sawReplay = true  // another request used it first
                    case .rateLimited(let s):
                        return (.limited(s), nil)
                    }
                case .rejected(.replayed):
                    sawReplay = true
                case .rejected(.malformed), .rejected(.noMatch):
                    continue
                }
            }
        }

        if !sawReplay, let index = recoveryIndex {
            let event = audit("verify.ok", user: user, peer: peer, now: now, service: context.service, rhost: rhost, detail: "recovery code")
            switch try store.consumeRecoveryCode(
                user: user, input: codes[index], rhost: rhost, now: now, audit: event, reservation: reservation)
            {
            case .accepted(let remaining):
                return (.accepted(factor: .recovery, token: nil, recoveryRemaining: remaining), index)
            case .rateLimited(let s):
                return (.limited(s), nil)
            case .noMatch:
                break
            }
        }

        if !sawReplay,
            let index = codes.firstIndex(where: { !$0.contains(" ") && (try? OneTimeCode.normalize($0, digits: ScratchCodeBatch.digits)) != nil })
        {
            let event = audit("verify.ok", user: user, peer: peer, now: now, service: context.service, rhost: rhost, detail: "scratch code")
            switch try store.consumeScratchCode(
                user: user, input: codes[index], rhost: rhost, now: now, audit: event, reservation: reservation)
            {
            case .accepted(let remaining):
                return (.accepted(factor: .recovery, token: nil, recoveryRemaining: snapshot.recoveryRemaining + remaining), index)
            case .rateLimited(let s):
                return (.limited(s), nil)
            case .noMatch:
                break
            }
        }

        let event = audit(
            sawReplay ? "verify.replayed" : "verify.invalid", user: user, peer: peer, now: now,
            service: context.service, rhost: rhost)
        let failure = try store.recordFailure(user: user, rhost: rhost, now: now, audit: event, reservation: reservation)
        if failure.lockedOutNow {
            logger.warning("user locked out", metadata: ["user.name": "\(user)", "limiter.failures": "\(failure.failures)"])
        }
        return (sawReplay ? .replayed : .invalid, nil)
    }

    /// `code` against one token, within the configured window or look-ahead.
    func evaluate(_ code: String, _ token: VerifiableToken, now: Int64) throws -> VerificationResult {
        let params = token.info.parameters
        switch params.kind {
        case .totp:
            // Centred where an import or a resync found the device's clock.
            return try OTPVerifier.verifyTOTP(
                code: code, secret: token.secret, parameters: params,
                at: max(0, now + Int64(token.info.skew) * params.period), window: token.info.window ?? config.window,
                watermark: token.info.watermark)
        case .hotp:
            return try OTPVerifier.verifyHOTP(
                code: code, secret: token.secret, parameters: params, initialCounter: token.initialCounter,
                lookAhead: config.hotpLookAhead, watermark: token.info.watermark)
        }
    }

    func verify(_ r: VerifyRequest, id: String?, peer: Peer, now: Int64) throws -> Reply {
        let outcome = try checkCode(r.code, user: r.user, peer: peer, context: Context(service: r.service, rhost: r.rhost, tty: r.tty), now: now)
        logOutcome(outcome, user: r.user, peer: peer, service: r.service, rhost: r.rhost)
        return reply(for: outcome, user: r.user, id: id, now: now) {
            .success(id: id, result: VerifyResult(factor: $0, token: $1, recoveryRemaining: $2))
        }
    }

    func reply(
        for outcome: CodeOutcome, user: String, id: String?, now: Int64, onSuccess: (Factor, String?, Int) -> Reply
    ) -> Reply {
        switch outcome {
        case .accepted(let factor, let token, let remaining): onSuccess(factor, token, remaining)
        case .notEnrolled: notEnrolled(user, id: id)
        case .limited(let state): rateLimited(state, id: id, now: now)
        case .replayed: .failure(id: id, code: .replayedCode, message: "that code was already used; wait for the next one")
        case .invalid: .failure(id: id, code: .invalidCode, message: "the code is not valid")
        }
    }

    /// The one notice line per authentication outcome, with structured fields only.
    func logOutcome(_ outcome: CodeOutcome, user: String, peer: Peer, service: String?, rhost: String?) {
        var metadata: Logger.Metadata = [
            "user.name": "\(user)", "peer.uid": "\(peer.uid)", "peer.pid": "\(peer.pid)",
            "request.service": "\(service ?? "-")", "request.rhost": "\(rhost ?? "-")",
        ]
        switch outcome {
        case .accepted(let factor, let token, _):
            metadata["auth.outcome"] = "accepted"
            metadata["auth.factor"] = "\(factor.rawValue)"
            if let token { metadata["token.name"] = "\(token)" }
        case .notEnrolled: metadata["auth.outcome"] = "not_enrolled"
        case .limited: metadata["auth.outcome"] = "rate_limited"
        case .replayed: metadata["auth.outcome"] = "replayed_code"
        case .invalid: metadata["auth.outcome"] = "invalid_code"
        }
        logger.notice("authentication", metadata: metadata)
    }

    /// For changes to an enrolled user's factors on the public socket: a current code
    /// must be given and is checked (and used up) like a login. Nil means go ahead.
    func requireCurrentCode(_ code: String?, user: String, peer: Peer, asAdmin: Bool, id: String?, now: Int64) throws -> Reply? {
        if asAdmin { return nil }
        guard let code, !code.isEmpty else {
            try store.appendAudit(audit("forbidden", user: user, peer: peer, now: now, detail: "factor change without a current code"))
            return .failure(id: id, code: .forbidden, message: "a current code is needed to change the factors of an enrolled user")
        }
        let outcome = try checkCode(code, user: user, peer: peer, context: Context(service: "otpgate"), now: now)
        logOutcome(outcome, user: user, peer: peer, service: "otpgate", rhost: nil)
        if case .accepted = outcome { return nil }
        return reply(for: outcome, user: user, id: id, now: now) { _, _, _ in .failure(id: id, code: .internal, message: "unreachable") }
    }

    func status(user: String, id: String?, now: Int64) throws -> Reply {
        let tokens = try store.tokens(user: user)
        let state = try store.limitState(user: user, now: now)
        var result = StatusResult(
            user: user, enrolled: !tokens.isEmpty, required: isRequired(user),
            tokens: tokens.map { t in
                StatusResult.Token(
                    id: t.id, name: t.name, kind: t.parameters.kind == .totp ? .totp : .hotp,
                    algorithm: TokenAlgorithm(rawValue: t.parameters.algorithm.rawValue) ?? .sha1,
                    digits: t.parameters.digits, period: t.parameters.kind == .totp ? Int(t.parameters.period) : nil,
                    createdAt: Timestamp(unixSeconds: t.createdAt), lastUsedAt: t.lastUsedAt.map(Timestamp.init(unixSeconds:)),
                    drift: t.drift == 0 ? nil : t.drift, skew: t.skew == 0 ? nil : t.skew)
            },
            recoveryRemaining: try store.recoveryCodesRemaining(user: user),
            retryAfter: state == .lockedOut ? nil : retryAfter(state, now: now),
            pendingEnrollments: try store.pendingEnrollments(user: user, now: now).map { p in
                StatusResult.PendingEnrollment(
                    name: p.name, kind: p.kind == .totp ? .totp : .hotp, createdAt: Timestamp(unixSeconds: p.createdAt),
                    expiresAt: Timestamp(unixSeconds: p.expiresAt), begunWithoutCode: p.begunWithoutCode)
            })
        let scratch = try store.scratchCodesRemaining(user: user)
        result.scratchRemaining = scratch == 0 ? nil : scratch
        return .success(id: id, result: result)
    }
}
