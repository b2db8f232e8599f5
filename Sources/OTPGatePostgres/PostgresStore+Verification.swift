public import OTPCore
public import OTPGateStoreContract
internal import NIOCore
internal import PostgresNIO
import Synchronization

/// One `otpgate.user_state` row set (read_user, reserve_attempt), decoded.
struct UserState {
    var now: Int64
    var known: Bool
    var admitted: Bool?
    var attempt: Int?
    var failures: Int
    var lockedUntil: Int64?
    var lockedOut: Bool
    var recoveryRemaining: Int
    var scratchRemaining: Int
    var graceGrantedAt: Int64?
    /// The tokens, with their sealed secrets.
    var tokens: [(info: TokenInfo, sealed: [UInt8], initialCounter: UInt64)]

    var limit: LimitState { PostgresStore.limitState(lockedOut: lockedOut, lockedUntil: lockedUntil, now: now) }

    init(_ rows: [PostgresResultRow], user: String) throws(StoreError) {
        let first = try PostgresStore.one(rows, "the user read")
        func d<T: PostgresDecodable>(_ row: PostgresResultRow, _ c: Int) throws(StoreError) -> T { try PostgresStore.decode(row, c) }
        now = try d(first, 0)
        known = try d(first, 1)
        admitted = try d(first, 2) as Bool?
        attempt = (try d(first, 3) as Int32?).map(Int.init)
        failures = Int((try d(first, 4) as Int32?) ?? 0)
        lockedUntil = try d(first, 6) as Int64?
        lockedOut = (try d(first, 7) as Bool?) ?? false
        recoveryRemaining = Int((try d(first, 8) as Int32?) ?? 0)
        scratchRemaining = Int((try d(first, 9) as Int32?) ?? 0)
        graceGrantedAt = try d(first, 10) as Int64?
        tokens = []
        for row in rows {
            guard let id = try d(row, 11) as String? else { continue }
            let kindText: String = try d(row, 13)
            let algorithmText: String = try d(row, 14)
            guard let kind = OTPKind(rawValue: kindText), let algorithm = OTPAlgorithm(rawValue: algorithmText),
                let parameters = try? OTPParameters(
                    kind: kind, algorithm: algorithm, digits: Int(try d(row, 15) as Int32), period: Int64(try d(row, 16) as Int32))
            else { throw StoreError(.database, "token \(id) has parameters this version does not know") }
            let secret: ByteBuffer = try d(row, 18)
            let info = TokenInfo(
                id: id, user: user, name: try d(row, 12), parameters: parameters,
                watermark: (try d(row, 19) as Int64?).map { UInt64(max(0, $0)) }, drift: Int((try d(row, 20) as Int32?) ?? 0),
                createdAt: (try d(row, 23) as Int64?) ?? 0, lastUsedAt: try d(row, 24) as Int64?,
                skew: Int((try d(row, 21) as Int32?) ?? 0), window: (try d(row, 22) as Int32?).map(Int.init))
            tokens.append((info, Array(secret.readableBytesView), UInt64(max(0, (try d(row, 17) as Int64?) ?? 0))))
        }
    }
}

/// What `verificationContext` reserved, handed to the `reserveAttempt` of the same
/// request (the database reserves in the read: one round trip, one lock).
struct PostgresAdmission: Sendable {
    let user: String
    let rhost: String?
    let admission: Admission
}

extension PostgresStore {
    func readUser(_ user: String, rhost: String?) throws(StoreError) -> UserState {
        try UserState(try run("read_user", [.text(user), Self.text(rhost)]), user: user)
    }

    func unseal(_ state: UserState, user: String) throws(StoreError) -> [VerifiableToken] {
        var out: [VerifiableToken] = []
        for t in state.tokens {
            let secret = try currentKeyring().open(t.sealed, for: .token(t.info.id, user: user))
            out.append(VerifiableToken(info: t.info, secret: secret, initialCounter: t.initialCounter))
        }
        return out
    }

    /// The read of a verify is `reserve_attempt`: it decides, counts the attempt and
    /// returns the tokens under the user's lock, so the following `reserveAttempt`
    /// only hands out what was decided here. A refused attempt returns no tokens; they
    /// are read (without counting) so the caller still tells "limited" from "not
    /// enrolled".
    public func verificationContext(user: String, rhost: String?, now: Int64) throws(StoreError) -> VerificationContext {
        let reserved = try UserState(try run("reserve_attempt", [.text(user), Self.text(rhost)]), user: user)
        let admission: Admission
        var state = reserved
        if reserved.admitted == true {
            admission = .admitted(AttemptReservation(user: user, userID: nil, rhost: rhost, attempt: reserved.attempt, onRelease: nil))
        } else {
            admission = .refused(reserved.limit)
            state = try readUser(user, rhost: rhost)
        }
        return VerificationContext(
            tokens: try unseal(state, user: user), recoveryRemaining: state.recoveryRemaining, time: reserved.now, userID: nil,
            limiterSnapshot: PostgresAdmission(user: user, rhost: rhost, admission: admission))
    }

    /// A stand-in for users without a token: a random secret, so the guess is checked
    /// at the same cost as a real one and never matches.
    public func decoyTokens() throws(StoreError) -> [VerifiableToken] {
        let secret: [UInt8]
        do { secret = try OTPSecret.generate() } catch { throw StoreError(.crypto, "could not draw a stand-in secret") }
        let info = TokenInfo(id: "decoy", user: "", name: "decoy", parameters: .standard, watermark: nil, drift: 0, createdAt: 0, lastUsedAt: nil)
        return [VerifiableToken(info: info, secret: secret, initialCounter: 0)]
    }

    public func reserveAttempt(user: String, rhost: String?, now: Int64, context: VerificationContext?) throws(StoreError) -> Admission {
        if let held = context?.limiterSnapshot as? PostgresAdmission, held.user == user, held.rhost == rhost { return held.admission }
        if rhost == nil, let held = confirmations.withLock({ (held: inout [String: HeldConfirmation]) -> AttemptReservation? in
            guard var c = held[user], !c.handedOut else { return nil }
            c.handedOut = true
            held[user] = c
            return c.reservation
        }) {
            return .admitted(held)
        }
        let state = try UserState(try run("reserve_attempt", [.text(user), Self.text(rhost)]), user: user)
        guard state.admitted == true else { return .refused(state.limit) }
        return .admitted(AttemptReservation(user: user, userID: nil, rhost: rhost, attempt: state.attempt, onRelease: nil))
    }

    public func acceptCode(
        user: String, tokenID: String, counter: UInt64, drift: Int, rhost: String?, now: Int64, audit: AuditEvent?,
        reservation: AttemptReservation?
    ) throws(StoreError) -> AcceptResult {
        let rows = try run("accept_code", [
            .text(user), .text(tokenID), .int64(Int64(clamping: counter)), .int32(Int32(clamping: drift)), Self.attempt(reservation),
            Self.text(audit?.service), Self.peer(audit), Self.text(rhost), Self.relay(audit),
        ])
        let outcome: String = try Self.decode(try Self.one(rows, "accept_code"), 0)
        switch outcome {
        case "accepted": return .accepted
        case "replayed": return .replayed
        default: return .rateLimited(try limitState(user: user, rhost: rhost, now: now))
        }
    }

    public func recordFailure(
        user: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> FailureResult {
        let event = audit?.event ?? "verify.invalid"
        let row = try Self.one(
            try run("record_failure", [
                .text(user), Self.text(rhost), Self.attempt(reservation), .text(event), Self.text(audit?.service), Self.peer(audit),
                Self.text(audit?.detail), Self.relay(audit),
            ]), "record_failure")
        let lockedOut: Bool = try Self.decode(row, 2)
        let lockedUntil: Int64? = try Self.decode(row, 1)
        return FailureResult(
            failures: Int(try Self.decode(row, 0) as Int32),
            state: Self.limitState(lockedOut: lockedOut, lockedUntil: lockedUntil, now: now),
            lockedOutNow: try Self.decode(row, 3))
    }

    public func recordNotEnrolled(
        user: String, rhost: String?, now: Int64, audit: AuditEvent, reservation: AttemptReservation?
    ) throws(StoreError) {
        _ = try run("record_not_enrolled", [.text(user), Self.text(rhost), Self.text(audit.service), Self.peer(audit), Self.relay(audit)])
    }

    public func consumeRecoveryCode(
        user: String, input: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult {
        try consumeCode(
            kind: "recovery", normalized: try? RecoveryCode.normalize(input), equalise: true, user: user, rhost: rhost, audit: audit,
            reservation: reservation, now: now)
    }

    public func consumeScratchCode(
        user: String, input: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult {
        let normalized = input.contains(" ") ? nil : try? OneTimeCode.normalize(input, digits: ScratchCodeBatch.digits)
        return try consumeCode(
            kind: "scratch", normalized: normalized, equalise: false, user: user, rhost: rhost, audit: audit, reservation: reservation,
            now: now)
    }

    /// As the SQLite store: the slow hash once per (kdf, salt), compared with every
    /// unused code without stopping early, then the matched one used with a
    /// compare-and-set in the database (of parallel uses exactly one wins).
    func consumeCode(
        kind: String, normalized: [UInt8]?, equalise: Bool, user: String, rhost: String?, audit: AuditEvent?,
        reservation: AttemptReservation?, now: Int64
    ) throws(StoreError) -> RecoveryResult {
        if reservation == nil {
            let state = try limitState(user: user, rhost: rhost, now: now)
            guard state == .open else { return .rateLimited(state) }
        }
        guard let normalized else { return .noMatch }
        let codes = try run("unused_codes", [.text(user), .text(kind)]).map { row throws(StoreError) in
            StoredCode(
                id: try Self.decode(row, 0), kdf: try Self.decode(row, 1),
                salt: Array((try Self.decode(row, 2) as ByteBuffer).readableBytesView),
                hash: Array((try Self.decode(row, 3) as ByteBuffer).readableBytesView))
        }
        let match = try recoveryHasher.match(normalized, among: codes, user: user, equalise: equalise, what: "\(kind) code")
        guard let id = match else { return .noMatch }
        let row = try Self.one(
            try run("consume_code", [
                .text(user), .text(kind), .int64(id), Self.attempt(reservation), Self.text(audit?.service), Self.peer(audit),
                Self.text(rhost), Self.relay(audit),
            ]), "consume_code")
        let outcome: String = try Self.decode(row, 0)
        switch outcome {
        case "accepted": return .accepted(remaining: Int((try Self.decode(row, 1) as Int32?) ?? 0))
        case "limited": return .rateLimited(try limitState(user: user, rhost: rhost, now: now))
        default: return .noMatch
        }
    }

    public func limitState(user: String, rhost: String?, now: Int64) throws(StoreError) -> LimitState {
        try readUser(user, rhost: rhost).limit
    }

    public func precheckState(user: String, rhost: String?, now: Int64) throws(StoreError) -> PrecheckState {
        let state = try readUser(user, rhost: rhost)
        return PrecheckState(enrolled: !state.tokens.isEmpty, limit: state.limit, graceGrantedAt: state.graceGrantedAt)
    }
}
