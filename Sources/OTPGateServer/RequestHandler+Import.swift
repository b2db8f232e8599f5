import Logging
import OTPCore
import OTPGateProtocol
import OTPGateStoreContract

extension RequestHandler {
    /// TOTP resync searches this far either side of the clock (a day).
    static let resyncSeconds: Int64 = 86_400
    /// HOTP resync searches this many counters past the last accepted one.
    static let resyncCounters: UInt64 = 10_000

    func adminImport(_ r: AdminImportRequest, id: String?, peer: Peer, now: Int64) throws -> Reply {
        var tokens: [ImportedToken] = []
        // The decoded secrets are needed only until they are sealed.
        defer { tokens.forEach { $0.secret.wipeSharedStorage() } }
        var details: [String: String] = [:]
        for t in r.tokens {
            let secret: [UInt8]
            do { secret = try Base32.decode(t.secret) } catch {
                return .failure(id: id, code: .badRequest, message: "the secret of token '\(t.name)' is not base32")
            }
            let parameters: OTPParameters
            do {
                parameters = try OTPParameters(
                    kind: t.kind == .totp ? .totp : .hotp, algorithm: OTPAlgorithm(rawValue: t.algorithm.rawValue) ?? .sha1,
                    digits: t.digits, period: Int64(t.period ?? 30))
            } catch {
                secret.wipeSharedStorage()
                return .failure(id: id, code: .badRequest, message: "token '\(t.name)': \(error.message)")
            }
            tokens.append(ImportedToken(
                name: t.name, parameters: parameters, secret: secret, initialCounter: UInt64(t.counter ?? 0),
                watermark: t.watermark.map { UInt64($0) }, skew: t.skew ?? 0, window: t.window))
            let shape = t.kind == .totp ? "\(t.period ?? 30) s" : "next counter \(t.counter ?? 0)"
            var detail = "from \(r.source): \(t.kind.rawValue) token \(t.name), \(t.algorithm.rawValue), \(t.digits) digits, \(shape)"
            if secret.count < 16 { detail += ", \(secret.count * 8)-bit secret" }
            if let s = t.skew, s != 0 { detail += ", skew \(s)" }
            if !r.scratchCodes.isEmpty { detail += ", \(r.scratchCodes.count) scratch codes" }
            details[t.name] = detail
        }
        // Hashing costs a scrypt run per code: a dry run only counts them.
        let batch = r.dryRun || r.scratchCodes.isEmpty ? nil : try ScratchCodeBatch.hash(r.scratchCodes, user: r.user, hasher: store.recoveryHasher)
        let mode = ImportMode(rawValue: r.mode.rawValue) ?? .skip
        let existing = try store.tokens(user: r.user).count
        let user = r.user
        let outcome = try store.importTokens(
            user: r.user, tokens: tokens, scratchCodes: batch, mode: mode, dryRun: r.dryRun, now: now
        ) { [details] name in
            AuditEvent(time: now, event: "token.imported", user: user, peerUID: Int64(peer.uid), detail: details[name], relay: peer.host)
        }
        let result: AdminImportResult
        switch outcome {
        case .skipped(let count):
            result = AdminImportResult(
                user: r.user, outcome: .skipped, dryRun: r.dryRun, tokens: [], existing: count, replaced: 0, scratchCodes: 0)
        case .imported(let names, let replaced, _):
            result = AdminImportResult(
                user: r.user, outcome: .imported, dryRun: r.dryRun, tokens: names, existing: existing, replaced: replaced,
                scratchCodes: r.scratchCodes.count)
            if !r.dryRun {
                logger.notice(
                    "tokens imported",
                    metadata: ["user.name": "\(r.user)", "peer.uid": "\(peer.uid)", "import.tokens": "\(names.count)",
                               "import.replaced": "\(replaced)"])
            }
        }
        return .success(id: id, result: result)
    }

    func tokenResync(_ r: TokenResyncRequest, id: String?, peer: Peer, asAdmin: Bool, now: Int64) throws -> Reply {
        let tokens = try store.verifiableTokens(user: r.user)
        defer { tokens.forEach { $0.secret.wipeSharedStorage() } }
        guard !tokens.isEmpty else { return notEnrolled(r.user, id: id) }
        let token: VerifiableToken
        if let wanted = r.token {
            guard let t = tokens.first(where: { $0.info.id == wanted || $0.info.name == wanted }) else {
                return .failure(id: id, code: .conflict, message: "user \(r.user) has no token '\(wanted)'")
            }
            token = t
        } else {
            guard tokens.count == 1 else {
                return .failure(
                    id: id, code: .badRequest,
                    message: "user \(r.user) has \(tokens.count) tokens; name the one to resync (--token)")
            }
            token = tokens[0]
        }
        let params = token.info.parameters
        let needed = params.kind == .totp ? 2 : 3
        guard r.codes.count == needed else {
            return .failure(
                id: id, code: .badRequest,
                message: "a \(params.kind.rawValue) resync takes \(needed) consecutive codes, not \(r.codes.count)")
        }
        let state = try store.limitState(user: r.user, now: now)
        guard state == .open else {
            try store.appendAudit(audit("token.resync_limited", user: r.user, peer: peer, now: now))
            return rateLimited(state, id: id, now: now)
        }

        let found = Self.findConsecutive(r.codes, token: token, now: now)
        let kindName = params.kind.rawValue
        guard let (first, offset) = found else {
            let event = audit(
                "token.resync_failed", user: r.user, peer: peer, now: now,
                detail: "\(kindName) token \(token.info.name): no consecutive match")
            _ = try store.recordFailure(user: r.user, now: now, audit: event)
            let range = params.kind == .totp ? "within a day of this host's clock" : "in the next \(Self.resyncCounters) counters"
            return .failure(id: id, code: .invalidCode, message: "the codes are not consecutive codes of token \(token.info.name) \(range)")
        }
        let last = first + UInt64(needed - 1)
        if let w = token.info.watermark, last <= w {
            try store.appendAudit(audit(
                "token.resync_refused", user: r.user, peer: peer, now: now,
                detail: "\(kindName) token \(token.info.name): codes at or before the last accepted one"))
            return .failure(
                id: id, code: .replayedCode,
                message: "those codes are at or before the last one accepted; resync never moves a token back (fix the device's clock, or wait)")
        }
        let skew = params.kind == .totp ? offset : 0
        let seconds = params.kind == .totp ? offset * Int(params.period) : nil
        let detail = "\(kindName) token \(token.info.name): drift \(offset)" + (seconds.map { " steps (\($0) s)" } ?? " counters")
        switch try store.resyncToken(
            user: r.user, tokenID: token.info.id, watermark: last, skew: skew, drift: offset, now: now,
            audit: audit("token.resynced", user: r.user, peer: peer, now: now, detail: detail))
        {
        case .accepted:
            logger.notice(
                "token resynced", metadata: ["user.name": "\(r.user)", "token.name": "\(token.info.name)", "token.drift": "\(offset)"])
            return .success(
                id: id,
                result: TokenResyncResult(
                    token: token.info.id, name: token.info.name, kind: params.kind == .totp ? .totp : .hotp, drift: offset,
                    seconds: seconds))
        case .replayed:
            return .failure(id: id, code: .replayedCode, message: "the token moved on meanwhile; type the next codes")
        case .rateLimited(let s):
            return rateLimited(s, id: id, now: now)
        }
    }

    /// Where `codes` appear one after another: the first step or counter, and its
    /// offset from the expected one (TOTP: the step of the last code from the clock's
    /// step; HOTP: from the next unused counter). Every position in the range is
    /// computed and compared, without stopping at a match; two matches (a chance of
    /// about 10^-8 for a day of 6-digit TOTP pairs) count as none.
    static func findConsecutive(_ input: [String], token: VerifiableToken, now: Int64) -> (UInt64, Int)? {
        let params = token.info.parameters
        var codes: [[UInt8]] = []
        for c in input {
            guard let n = try? OneTimeCode.normalize(c, digits: params.digits) else { return nil }
            codes.append(n)
        }
        let low: UInt64
        let high: UInt64
        let expected: UInt64
        switch params.kind {
        case .totp:
            let current = UInt64(max(0, now) / params.period)
            let reach = UInt64(max(1, resyncSeconds / params.period))
            low = current > reach ? current - reach : 0
            high = current + reach
            expected = current
        case .hotp:
            let next = token.info.watermark.map { $0 + 1 } ?? token.initialCounter
            low = next
            high = next + resyncCounters
            expected = next
        }
        var previous: [[UInt8]] = []  // codes at the last codes.count - 1 positions
        var match: UInt64?
        var matches = 0
        for position in low...(high + UInt64(codes.count - 1)) {
            let code = HOTP.code(secret: token.secret, counter: position, algorithm: params.algorithm, digits: params.digits)
            previous.append(code)
            if previous.count > codes.count { previous.removeFirst() }
            guard previous.count == codes.count else { continue }
            var all = true
            for (a, b) in zip(previous, codes) where !ConstantTime.equal(a, b) { all = false }
            if all {
                matches += 1
                match = position - UInt64(codes.count - 1)
            }
        }
        guard matches == 1, let first = match else { return nil }
        let last = first + UInt64(codes.count - 1)
        let offset: Int
        switch params.kind {
        case .totp: offset = last >= expected ? Int(last - expected) : -Int(expected - last)
        case .hotp: offset = Int(first - expected)
        }
        return (first, offset)
    }
}
