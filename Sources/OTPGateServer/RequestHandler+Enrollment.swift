import Logging
import OTPCore
import OTPGateProtocol
import OTPGateStoreContract

extension RequestHandler {
    /// The reply's `secret` and `uri` are written into wiped memory (`Answer`), and
    /// the generated secret is wiped once it is sealed and shown.
    func enrollBegin(_ r: EnrollBeginRequest, id: String?, peer: Peer, asAdmin: Bool, now: Int64) throws -> Answer {
        let existing = try store.tokens(user: r.user)
        // Checked before the current code is used up, so a refused request costs none.
        if let name = r.name, existing.contains(where: { $0.name == name }) {
            return Answer(.failure(id: id, code: .conflict, message: "user \(r.user) already has a token named '\(name)'"))
        }
        if !existing.isEmpty, let refusal = try requireCurrentCode(r.code, user: r.user, peer: peer, asAdmin: asAdmin, id: id, now: now) {
            return Answer(refusal)
        }
        let kind: OTPKind = r.kind == .hotp ? .hotp : .totp
        let algorithm = r.algorithm.flatMap { OTPAlgorithm(rawValue: $0.rawValue) } ?? .sha1
        let parameters: OTPParameters
        do {
            parameters = try OTPParameters(kind: kind, algorithm: algorithm, digits: r.digits ?? 6, period: Int64(r.period ?? 30))
        } catch {
            return Answer(.failure(id: id, code: .badRequest, message: error.message))
        }
        let name = r.name ?? Self.defaultTokenName(taken: Set(existing.map(\.name)))
        // One buffer, shared (never copied) by the store's PendingEnrollment and the
        // URI below: wiping it wipes them all.
        let secret = try OTPSecret.generate()
        defer { secret.wipeSharedStorage() }
        let pending = try store.beginEnrollment(
            user: r.user, name: name, parameters: parameters, secret: secret, initialCounter: 0, now: now, ttl: config.enrollmentTTL,
            audit: audit("enroll.begin", user: r.user, peer: peer, now: now, detail: "\(kind.rawValue) token \(name)"))
        logger.notice("enrolment begun", metadata: ["user.name": "\(r.user)", "peer.uid": "\(peer.uid)", "token.name": "\(name)"])
        let text = SecretBytes(capacity: 128)
        Base32.encode(secret, into: text)
        let uri = SecretBytes(capacity: 256)
        OTPAuthURI(parameters: parameters, secret: secret, account: r.user, issuer: issuer).write(into: uri)
        return Answer(
            .success(
                id: id,
                result: EnrollBeginResult(
                    enrollment: pending.id, secret: "", uri: "", expiresAt: Timestamp(unixSeconds: pending.expiresAt))),
            secrets: ["secret": .string(text), "uri": .string(uri)])
    }

    static func defaultTokenName(taken: Set<String>) -> String {
        if !taken.contains("default") { return "default" }
        var n = 2
        while taken.contains("token\(n)") { n += 1 }
        return "token\(n)"
    }

    /// Checks the first code of a pending enrolment like a login: the limiter admits
    /// and reserves the attempt first, and a wrong code counts as a failure of the
    /// user and is audited (`enroll.confirm_invalid`). An enrolment begun without a
    /// code fails, and is removed, once the user has a token.
    /// New recovery codes (when the user had none) go out in wiped memory (`Answer`).
    func enrollConfirm(_ r: EnrollConfirmRequest, id: String?, peer: Peer, now: Int64) throws -> Answer {
        var codes: [SecretBytes]?
        let reply = try confirm(r, id: id, peer: peer, now: now, recoveryCodes: &codes)
        guard let codes else { return Answer(reply) }
        return Answer(reply, secrets: ["recovery_codes": .strings(codes)])
    }

    private func confirm(
        _ r: EnrollConfirmRequest, id: String?, peer: Peer, now: Int64, recoveryCodes: inout [SecretBytes]?
    ) throws -> Reply {
        let pending: PendingEnrollment
        switch Result(catching: { () throws(StoreError) in try store.pendingEnrollment(id: r.enrollment, user: r.user, now: now) }) {
        case .success(let p):
            pending = p
        case .failure(let e) where e.code == .notFound:
            return .failure(id: id, code: .noEnrollment, message: "there is no pending enrolment \(r.enrollment) for \(r.user)")
        case .failure(let e) where e.code == .expired:
            return .failure(id: id, code: .enrollmentExpired, message: "the enrolment expired; begin again")
        case .failure(let e):
            throw e
        }
        // The decrypted secret is needed only for the code check below.
        defer { pending.secret.wipeSharedStorage() }
        if pending.begunWithoutCode, !(try store.tokens(user: r.user)).isEmpty {
            return outranked(pending, user: r.user, id: id, peer: peer, now: now)
        }
        let reservation: AttemptReservation
        switch try store.reserveAttempt(user: r.user, now: now) {
        case .refused(let state):
            try store.appendAudit(audit("enroll.confirm_limited", user: r.user, peer: peer, now: now, detail: "token \(pending.name)"))
            return rateLimited(state, id: id, now: now)
        case .admitted(let a):
            reservation = a
        }
        defer { reservation.release() }
        let result: VerificationResult
        switch pending.parameters.kind {
        case .totp:
            result = try OTPVerifier.verifyTOTP(
                code: r.code, secret: pending.secret, parameters: pending.parameters, at: now, window: config.window,
                watermark: nil)
        case .hotp:
            result = try OTPVerifier.verifyHOTP(
                code: r.code, secret: pending.secret, parameters: pending.parameters,
                initialCounter: pending.initialCounter, lookAhead: config.hotpLookAhead, watermark: nil)
        }
        guard case .accepted(let counter, let drift) = result else {
            let failure = try store.recordFailure(
                user: r.user, rhost: nil, now: now,
                audit: audit("enroll.confirm_invalid", user: r.user, peer: peer, now: now, detail: "token \(pending.name)"),
                reservation: reservation)
            logger.notice(
                "enrolment code wrong",
                metadata: ["user.name": "\(r.user)", "peer.uid": "\(peer.uid)", "limiter.failures": "\(failure.failures)"])
            return .failure(id: id, code: .invalidCode, message: "the code does not match the new token; check the app and try again")
        }
        // Hash new recovery codes (slow) before the transaction, and only if needed.
        let batch = try store.recoveryCodesRemaining(user: r.user) == 0
            ? RecoveryCodeBatch.generate(count: config.recoveryCodes, hasher: store.recoveryHasher, user: r.user) : nil
        let event = audit("enroll.confirm", user: r.user, peer: peer, now: now)
        let confirmed: (token: TokenInfo, storedRecoveryCodes: Bool)
        do {
            confirmed = try store.confirmEnrollment(
                id: pending.id, user: r.user, counter: counter, drift: drift, recoveryCodes: batch, now: now,
                audit: { token, stored in
                    var e = event
                    e.detail = "token \(token.name)" + (stored ? ", new recovery codes" : "")
                    return e
                })
        } catch {
            // A token arrived between the check above and this transaction.
            guard error.code == .conflict, error.message == StoreError.outrankedMessage(user: r.user) else { throw error }
            return outranked(pending, user: r.user, id: id, peer: peer, now: now)
        }
        let (token, stored) = confirmed
        logger.notice("enrolment confirmed", metadata: ["user.name": "\(r.user)", "peer.uid": "\(peer.uid)", "token.name": "\(token.name)"])
        recoveryCodes = stored ? batch?.secretCodes : nil
        return .success(id: id, result: EnrollConfirmResult(token: token.id, name: token.name))
    }

    /// Removes (and audits) an enrolment begun without a code for a user who has a
    /// token now: it would add a factor that no current code authorised.
    private func outranked(_ pending: PendingEnrollment, user: String, id: String?, peer: Peer, now: Int64) -> Reply {
        let event = audit("enroll.outranked", user: user, peer: peer, now: now, detail: "token \(pending.name)")
        do {
            try store.cancelEnrollment(id: pending.id, user: user, audit: event)
        } catch {
            logger.error("could not remove an outranked enrolment", metadata: ["user.name": "\(user)", "error": "\(error)"])
        }
        logger.notice("outranked enrolment refused", metadata: ["user.name": "\(user)", "peer.uid": "\(peer.uid)"])
        return .failure(id: id, code: .conflict, message: StoreError.outrankedMessage(user: user))
    }

    func enrollCancel(_ r: EnrollCancelRequest, id: String?, peer: Peer, now: Int64) throws -> Reply {
        guard try store.cancelEnrollment(id: r.enrollment, user: r.user, audit: audit("enroll.cancel", user: r.user, peer: peer, now: now)) else {
            return .failure(id: id, code: .noEnrollment, message: "there is no pending enrolment \(r.enrollment) for \(r.user)")
        }
        return .success(id: id)
    }

    func tokenRemove(_ r: TokenRemoveRequest, id: String?, peer: Peer, asAdmin: Bool, now: Int64) throws -> Reply {
        let tokens = try store.tokens(user: r.user)
        guard !tokens.isEmpty else { return notEnrolled(r.user, id: id) }
        guard let token = tokens.first(where: { $0.id == r.token }) ?? tokens.first(where: { $0.name == r.token }) else {
            return .failure(id: id, code: .conflict, message: "user \(r.user) has no token '\(r.token)'")
        }
        if let refusal = try requireCurrentCode(r.code, user: r.user, peer: peer, asAdmin: asAdmin, id: id, now: now) {
            return refusal
        }
        let left = try store.removeToken(
            user: r.user, tokenID: token.id,
            audit: audit("token.remove", user: r.user, peer: peer, now: now, detail: "token \(token.name)"))
        logger.notice("token removed", metadata: ["user.name": "\(r.user)", "peer.uid": "\(peer.uid)", "token.name": "\(token.name)"])
        return .success(id: id, result: TokenRemoveResult(enrolled: left > 0))
    }

    /// The new codes go out in wiped memory (`Answer`).
    func recoveryRegenerate(_ r: RecoveryRegenerateRequest, id: String?, peer: Peer, asAdmin: Bool, now: Int64) throws -> Answer {
        guard !(try store.tokens(user: r.user)).isEmpty else { return Answer(notEnrolled(r.user, id: id)) }
        if let refusal = try requireCurrentCode(r.code, user: r.user, peer: peer, asAdmin: asAdmin, id: id, now: now) {
            return Answer(refusal)
        }
        let batch = try RecoveryCodeBatch.generate(count: config.recoveryCodes, hasher: store.recoveryHasher, user: r.user)
        try store.replaceRecoveryCodes(
            user: r.user, batch: batch, now: now, audit: audit("recovery.regenerate", user: r.user, peer: peer, now: now))
        logger.notice("recovery codes regenerated", metadata: ["user.name": "\(r.user)", "peer.uid": "\(peer.uid)"])
        return Answer(
            .success(id: id, result: RecoveryRegenerateResult(recoveryCodes: [])),
            secrets: ["recovery_codes": .strings(batch.secretCodes)])
    }
}
