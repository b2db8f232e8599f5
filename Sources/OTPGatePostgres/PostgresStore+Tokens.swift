public import OTPCore
public import OTPGateStoreContract
internal import NIOCore
internal import PostgresNIO
import Synchronization

extension PostgresStore {
    public func tokens(user: String) throws(StoreError) -> [TokenInfo] {
        try readUser(user, rhost: nil).tokens.map(\.info)
    }

    public func verifiableTokens(user: String) throws(StoreError) -> [VerifiableToken] {
        try unseal(try readUser(user, rhost: nil), user: user)
    }

    public func removeToken(user: String, tokenID: String, audit: AuditEvent?) throws(StoreError) -> Int {
        let rows = try run("token_remove", [.text(user), .text(tokenID), Self.peer(audit), Self.relay(audit)])
        return Int(try Self.decode(try Self.one(rows, "token_remove"), 0) as Int32)
    }

    public func resyncToken(
        user: String, tokenID: String, watermark: UInt64, skew: Int, drift: Int, now: Int64, audit: AuditEvent?
    ) throws(StoreError) -> AcceptResult {
        let row = try Self.one(
            try run("resync_token", [
                .text(user), .text(tokenID), .int64(Int64(clamping: watermark)), .int32(Int32(clamping: skew)),
                .int32(Int32(clamping: drift)), Self.peer(audit), Self.relay(audit),
            ]), "resync_token")
        switch try Self.decode(row, 0) as String {
        case "accepted": return .accepted
        case "replayed": return .replayed
        default:
            let until: Int64? = try Self.decode(row, 1)
            return .rateLimited(until.map { .limited(until: $0) } ?? .lockedOut)
        }
    }

    public func recoveryCodesRemaining(user: String) throws(StoreError) -> Int {
        try readUser(user, rhost: nil).recoveryRemaining
    }

    public func scratchCodesRemaining(user: String) throws(StoreError) -> Int {
        try readUser(user, rhost: nil).scratchRemaining
    }

    public func replaceRecoveryCodes(user: String, batch: RecoveryCodeBatch, now: Int64, audit: AuditEvent?) throws(StoreError) {
        _ = try run("recovery_codes_replace", [
            .text(user), .text(batch.kdf), .bytea(batch.salt), .text(PostgresStoreStatements.byteaArray(batch.hashes)), Self.peer(audit), Self.relay(audit),
        ])
    }

    /// An admin function (this node's role must be in otpgate_admin): the tokens are
    /// sealed here for their new ids and sent as one JSON array, applied in one call.
    public func importTokens(
        user: String, tokens: [ImportedToken], scratchCodes: ScratchCodeBatch?, mode: ImportMode, dryRun: Bool, now: Int64,
        audit: (@Sendable (String) -> AuditEvent)?
    ) throws(StoreError) -> ImportOutcome {
        try sealing { ring throws(StoreError) in
            try importSealed(
                user: user, tokens: tokens, scratchCodes: scratchCodes, mode: mode, dryRun: dryRun, audit: audit, ring: ring)
        }
    }

    private func importSealed(
        user: String, tokens: [ImportedToken], scratchCodes: ScratchCodeBatch?, mode: ImportMode, dryRun: Bool,
        audit: (@Sendable (String) -> AuditEvent)?, ring: Keyring
    ) throws(StoreError) -> ImportOutcome {
        var items: [String] = []
        for t in tokens {
            let id = try StoreIdentifier.random(length: 16)
            let sealed = try ring.seal(t.secret, for: .token(id, user: user))
            let p = t.parameters
            let detail = audit?(t.name).detail
            func json(_ s: String) -> String { JSONText.quote(s) }
            items.append(
                "{\"id\":\(json(id)),\"name\":\(json(t.name)),\"kind\":\(json(p.kind.rawValue)),\"algorithm\":\(json(p.algorithm.rawValue)),"
                    + "\"digits\":\(p.digits),\"period\":\(p.period),\"initial_counter\":\(t.initialCounter),"
                    + "\"secret\":\(json(JSONText.base64(sealed))),\"watermark\":\(t.watermark.map(String.init) ?? "null"),"
                    + "\"skew\":\(p.kind == .hotp ? 0 : t.skew),\"window\":\(p.kind == .hotp ? "null" : t.window.map(String.init) ?? "null"),"
                    + "\"detail\":\(detail.map(json) ?? "null")}")
        }
        let peer = audit?("").peerUID.map { PostgresValue.int64($0) } ?? .null
        let row = try Self.one(
            try run("import_tokens", [
                .text(user), .text(mode.rawValue), .text("[" + items.joined(separator: ",") + "]"), Self.text(scratchCodes?.kdf),
                scratchCodes.map { .bytea($0.salt) } ?? .null, scratchCodes.map { .text(PostgresStoreStatements.byteaArray($0.hashes)) } ?? .null,
                .bool(dryRun), peer,
            ]), "import_tokens")
        if try Self.decode(row, 0) as String == "skipped" { return .skipped(existing: Int(try Self.decode(row, 1) as Int32)) }
        return .imported(
            tokens: try Self.decode(row, 3) as [String], replaced: Int(try Self.decode(row, 2) as Int32),
            scratchCodes: Int(try Self.decode(row, 4) as Int32))
    }

    // MARK: Enrolment

    public func beginEnrollment(
        user: String, name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64, now: Int64, ttl: Int64,
        audit: AuditEvent?
    ) throws(StoreError) -> PendingEnrollment {
        let id = try StoreIdentifier.random(length: 26)
        let row = try sealing { ring throws(StoreError) in
            let sealed = try ring.seal(secret, for: .enrollment(id, user: user))
            return try Self.one(
                try run("enrollment_begin", [
                    .text(user), .text(id), .text(name), .text(parameters.kind.rawValue), .text(parameters.algorithm.rawValue),
                    .int32(Int32(parameters.digits)), .int32(Int32(clamping: parameters.period)), .int64(Int64(clamping: initialCounter)),
                    .bytea(sealed), .int32(Int32(clamping: ttl)), Self.peer(audit), Self.relay(audit),
                ]), "enrollment_begin")
        }
        return PendingEnrollment(
            id: id, user: user, name: name, parameters: parameters, secret: secret, initialCounter: initialCounter,
            createdAt: try Self.decode(row, 1), expiresAt: try Self.decode(row, 2), begunWithoutCode: try Self.decode(row, 0))
    }

    /// The read of a confirmation, which in the database also reserves the attempt
    /// (`enrollment_reserve`, under the user's lock). The reservation is kept for the
    /// `reserveAttempt(user:)` that the handler makes next in the same request.
    /// A codeless enrolment outranked by a token since is removed here (audited as
    /// `enroll.outranked`) and refused, as the SQLite store's confirm does.
    public func pendingEnrollment(id: String, user: String, now: Int64) throws(StoreError) -> PendingEnrollment {
        let row = try Self.one(try run("enrollment_reserve", [.text(user), .text(id)]), "enrollment_reserve")
        func d<T: PostgresDecodable>(_ c: Int) throws(StoreError) -> T { try Self.decode(row, c) }
        if try d(5) as Bool? == true {
            _ = try run("enrollment_cancel", [.text(user), .text(id), .text("enroll.outranked"), .null, .null])
            throw StoreError(.conflict, StoreError.outrankedMessage(user: user))
        }
        guard try d(1) as Bool? == true else {
            let state = Self.limitState(lockedOut: (try d(4) as Bool?) ?? false, lockedUntil: try d(3) as Int64?, now: try d(0))
            confirmations.withLock { _ = $0.removeValue(forKey: user) }
            throw StoreError(.conflict, state == .lockedOut ? "too many failed attempts: locked" : "too many failed attempts: wait")
        }
        let attempt = (try d(2) as Int32?).map(Int.init)
        guard let kind = OTPKind(rawValue: try d(7)), let algorithm = OTPAlgorithm(rawValue: try d(8)),
            let parameters = try? OTPParameters(kind: kind, algorithm: algorithm, digits: Int(try d(9) as Int32), period: Int64(try d(10) as Int32))
        else { throw StoreError(.database, "enrolment \(id) has parameters this version does not know") }
        let sealed: ByteBuffer = try d(12)
        let secret = try currentKeyring().open(Array(sealed.readableBytesView), for: .enrollment(id, user: user))
        let pending = PendingEnrollment(
            id: id, user: user, name: try d(6), parameters: parameters, secret: secret,
            initialCounter: UInt64(max(0, try d(11) as Int64)), createdAt: try d(13), expiresAt: try d(14),
            begunWithoutCode: try d(15))
        let reservation = AttemptReservation(user: user, userID: nil, rhost: nil, attempt: attempt, onRelease: nil)
        confirmations.withLock { $0[user] = HeldConfirmation(id: id, pending: pending, reservation: reservation) }
        return pending
    }

    public func pendingEnrollments(user: String, now: Int64) throws(StoreError) -> [PendingEnrollmentInfo] {
        try run("pending_enrollments", [.text(user)]).map { row throws(StoreError) in
            guard let kind = OTPKind(rawValue: try Self.decode(row, 1)) else { throw StoreError(.database, "an enrolment of \(user) has an unknown kind") }
            return PendingEnrollmentInfo(
                name: try Self.decode(row, 0), kind: kind, createdAt: try Self.decode(row, 2), expiresAt: try Self.decode(row, 3),
                begunWithoutCode: try Self.decode(row, 4))
        }
    }

    public func confirmEnrollment(
        id: String, user: String, counter: UInt64, drift: Int, recoveryCodes: RecoveryCodeBatch?, now: Int64,
        audit: (@Sendable (TokenInfo, Bool) -> AuditEvent)?
    ) throws(StoreError) -> (token: TokenInfo, storedRecoveryCodes: Bool) {
        // The confirmation read (and reserved) by `pendingEnrollment` in this request,
        // or read now when the caller did not.
        var held = confirmations.withLock { $0.removeValue(forKey: user) }
        if held?.id != id {
            _ = try pendingEnrollment(id: id, user: user, now: now)
            held = confirmations.withLock { $0.removeValue(forKey: user) }
        }
        guard let pending = held else { throw StoreError(.database, "enrolment \(id) was read but not held") }
        let tokenID = try StoreIdentifier.random(length: 16)
        // The audit row is written by the database; only its relay is asked of the
        // caller's event, which names the token before it exists.
        let relay = Self.relay(audit?(
            TokenInfo(
                id: tokenID, user: user, name: pending.pending.name, parameters: pending.pending.parameters, watermark: counter,
                drift: drift, createdAt: now, lastUsedAt: nil),
            recoveryCodes != nil))
        let row = try sealing { ring throws(StoreError) in
            let sealed = try ring.seal(pending.pending.secret, for: .token(tokenID, user: user))
            return try Self.one(
                try run("enrollment_confirm", [
                    .text(user), .text(id), .text(tokenID), .bytea(sealed), .int64(Int64(clamping: counter)), .int32(Int32(clamping: drift)),
                    Self.attempt(pending.reservation), Self.text(recoveryCodes?.kdf), recoveryCodes.map { .bytea($0.salt) } ?? .null,
                    recoveryCodes.map { .text(PostgresStoreStatements.byteaArray($0.hashes)) } ?? .null, .null, relay,
                ]), "enrollment_confirm")
        }
        guard try Self.decode(row, 0) as String == "confirmed" else { throw StoreError(.conflict, StoreError.outrankedMessage(user: user)) }
        let info = TokenInfo(
            id: tokenID, user: user, name: try Self.decode(row, 2), parameters: pending.pending.parameters, watermark: counter, drift: drift,
            createdAt: try Self.decode(row, 4), lastUsedAt: nil)
        return (info, try Self.decode(row, 3))
    }

    public func cancelEnrollment(id: String, user: String, audit: AuditEvent?) throws(StoreError) -> Bool {
        let rows = try run("enrollment_cancel", [.text(user), .text(id), .text(audit?.event ?? "enroll.cancel"), Self.peer(audit), Self.relay(audit)])
        return try Self.decode(try Self.one(rows, "enrollment_cancel"), 0)
    }

    public func purgeExpiredEnrollments(now: Int64, grace: Int64) throws(StoreError) -> Int {
        Int(try Self.decode(try Self.one(try run("enrollment_purge", [.int32(Int32(clamping: grace))]), "enrollment_purge"), 0) as Int32)
    }
}
