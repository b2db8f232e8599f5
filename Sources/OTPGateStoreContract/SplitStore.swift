public import OTPCore

/// The store of a tier node: the shared store for every user except the local ones
/// (root and the configured break-glass accounts), whose tokens, codes, limiter and
/// audit rows live only in the host's own store, so that they can log in while the
/// shared database is away.
///
/// Every per-user call goes to exactly one of the two, by user name, so a local
/// user's factors never reach the shared database and a fleet user's never reach the
/// host. What spans users (the user list, retention, rekey, the audit of events that
/// name no user) is answered from both: the shared store first, and a failure of
/// either is the failure of the call, never half an answer.
public final class SplitStore: StoreContract {
    public let local: any StoreContract
    public let shared: any StoreContract
    private let isLocal: @Sendable (String) -> Bool

    public init(local: any StoreContract, shared: any StoreContract, isLocal: @escaping @Sendable (String) -> Bool) {
        self.local = local
        self.shared = shared
        self.isLocal = isLocal
    }

    private func store(for user: String) -> any StoreContract { isLocal(user) ? local : shared }

    public var location: String { "\(shared.location) (local users: \(local.location))" }
    public var limiterPolicy: LimiterPolicy { shared.limiterPolicy }
    public var recoveryHasher: RecoveryCodeHasher { shared.recoveryHasher }
    public var keyID: KeyID { shared.keyID }
    public var writeStatistics: WriteStatistics {
        let a = local.writeStatistics
        let b = shared.writeStatistics
        return WriteStatistics(
            transactions: a.transactions + b.transactions, writes: a.writes + b.writes,
            largestBatch: max(a.largestBatch, b.largestBatch))
    }

    // MARK: Per user

    public func verificationContext(user: String, rhost: String?, now: Int64) throws(StoreError) -> VerificationContext {
        try store(for: user).verificationContext(user: user, rhost: rhost, now: now)
    }

    /// The shared store's stand-in: an unknown user is looked up there.
    public func decoyTokens() throws(StoreError) -> [VerifiableToken] { try shared.decoyTokens() }

    public func reserveAttempt(user: String, rhost: String?, now: Int64, context: VerificationContext?) throws(StoreError) -> Admission {
        try store(for: user).reserveAttempt(user: user, rhost: rhost, now: now, context: context)
    }

    public func acceptCode(
        user: String, tokenID: String, counter: UInt64, drift: Int, rhost: String?, now: Int64, audit: AuditEvent?,
        reservation: AttemptReservation?
    ) throws(StoreError) -> AcceptResult {
        try store(for: user).acceptCode(
            user: user, tokenID: tokenID, counter: counter, drift: drift, rhost: rhost, now: now, audit: audit, reservation: reservation)
    }

    public func recordFailure(
        user: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> FailureResult {
        try store(for: user).recordFailure(user: user, rhost: rhost, now: now, audit: audit, reservation: reservation)
    }

    public func recordNotEnrolled(
        user: String, rhost: String?, now: Int64, audit: AuditEvent, reservation: AttemptReservation?
    ) throws(StoreError) {
        try store(for: user).recordNotEnrolled(user: user, rhost: rhost, now: now, audit: audit, reservation: reservation)
    }

    public func consumeRecoveryCode(
        user: String, input: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult {
        try store(for: user).consumeRecoveryCode(user: user, input: input, rhost: rhost, now: now, audit: audit, reservation: reservation)
    }

    public func consumeScratchCode(
        user: String, input: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult {
        try store(for: user).consumeScratchCode(user: user, input: input, rhost: rhost, now: now, audit: audit, reservation: reservation)
    }

    public func limitState(user: String, rhost: String?, now: Int64) throws(StoreError) -> LimitState {
        try store(for: user).limitState(user: user, rhost: rhost, now: now)
    }

    public func precheckState(user: String, rhost: String?, now: Int64) throws(StoreError) -> PrecheckState {
        try store(for: user).precheckState(user: user, rhost: rhost, now: now)
    }

    public func tokens(user: String) throws(StoreError) -> [TokenInfo] { try store(for: user).tokens(user: user) }

    public func verifiableTokens(user: String) throws(StoreError) -> [VerifiableToken] {
        try store(for: user).verifiableTokens(user: user)
    }

    public func removeToken(user: String, tokenID: String, audit: AuditEvent?) throws(StoreError) -> Int {
        try store(for: user).removeToken(user: user, tokenID: tokenID, audit: audit)
    }

    public func resyncToken(
        user: String, tokenID: String, watermark: UInt64, skew: Int, drift: Int, now: Int64, audit: AuditEvent?
    ) throws(StoreError) -> AcceptResult {
        try store(for: user).resyncToken(user: user, tokenID: tokenID, watermark: watermark, skew: skew, drift: drift, now: now, audit: audit)
    }

    public func recoveryCodesRemaining(user: String) throws(StoreError) -> Int {
        try store(for: user).recoveryCodesRemaining(user: user)
    }

    public func scratchCodesRemaining(user: String) throws(StoreError) -> Int {
        try store(for: user).scratchCodesRemaining(user: user)
    }

    public func replaceRecoveryCodes(user: String, batch: RecoveryCodeBatch, now: Int64, audit: AuditEvent?) throws(StoreError) {
        try store(for: user).replaceRecoveryCodes(user: user, batch: batch, now: now, audit: audit)
    }

    public func importTokens(
        user: String, tokens: [ImportedToken], scratchCodes: ScratchCodeBatch?, mode: ImportMode, dryRun: Bool, now: Int64,
        audit: (@Sendable (String) -> AuditEvent)?
    ) throws(StoreError) -> ImportOutcome {
        try store(for: user).importTokens(
            user: user, tokens: tokens, scratchCodes: scratchCodes, mode: mode, dryRun: dryRun, now: now, audit: audit)
    }

    public func beginEnrollment(
        user: String, name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64, now: Int64, ttl: Int64,
        audit: AuditEvent?
    ) throws(StoreError) -> PendingEnrollment {
        try store(for: user).beginEnrollment(
            user: user, name: name, parameters: parameters, secret: secret, initialCounter: initialCounter, now: now, ttl: ttl,
            audit: audit)
    }

    public func pendingEnrollment(id: String, user: String, now: Int64) throws(StoreError) -> PendingEnrollment {
        try store(for: user).pendingEnrollment(id: id, user: user, now: now)
    }

    public func pendingEnrollments(user: String, now: Int64) throws(StoreError) -> [PendingEnrollmentInfo] {
        try store(for: user).pendingEnrollments(user: user, now: now)
    }

    public func confirmEnrollment(
        id: String, user: String, counter: UInt64, drift: Int, recoveryCodes: RecoveryCodeBatch?, now: Int64,
        audit: (@Sendable (TokenInfo, Bool) -> AuditEvent)?
    ) throws(StoreError) -> (token: TokenInfo, storedRecoveryCodes: Bool) {
        try store(for: user).confirmEnrollment(
            id: id, user: user, counter: counter, drift: drift, recoveryCodes: recoveryCodes, now: now, audit: audit)
    }

    public func cancelEnrollment(id: String, user: String, audit: AuditEvent?) throws(StoreError) -> Bool {
        try store(for: user).cancelEnrollment(id: id, user: user, audit: audit)
    }

    public func resetUser(_ user: String, audit: AuditEvent?) throws(StoreError) -> Bool {
        try store(for: user).resetUser(user, audit: audit)
    }

    public func unlock(user: String, audit: AuditEvent?) throws(StoreError) -> Bool {
        try store(for: user).unlock(user: user, audit: audit)
    }

    /// An event goes where its user lives; one naming no user goes to the shared log.
    public func appendAudit(_ event: AuditEvent) throws(StoreError) -> Int64 {
        try (event.user.map(store(for:)) ?? shared).appendAudit(event)
    }

    // MARK: Across users

    public func purgeExpiredEnrollments(now: Int64, grace: Int64) throws(StoreError) -> Int {
        try shared.purgeExpiredEnrollments(now: now, grace: grace) + local.purgeExpiredEnrollments(now: now, grace: grace)
    }

    public func listUsers(now: Int64) throws(StoreError) -> [UserSummary] {
        let fleet = try shared.listUsers(now: now).filter { !isLocal($0.user) }
        let here = try local.listUsers(now: now).filter { isLocal($0.user) }
        return (fleet + here).sorted { $0.user < $1.user }
    }

    /// A user's events from the store that holds them; all events from both, by time,
    /// the newest `limit`.
    public func auditEvents(user: String?, since: Int64?, limit: Int) throws(StoreError) -> [AuditEvent] {
        if let user { return try store(for: user).auditEvents(user: user, since: since, limit: limit) }
        let both = try shared.auditEvents(user: nil, since: since, limit: limit) + local.auditEvents(user: nil, since: since, limit: limit)
        return Array(both.sorted { ($0.time, $0.id ?? 0) < ($1.time, $1.id ?? 0) }.suffix(limit))
    }

    public func pruneAudit(maxAge: Int64?, maxEvents: Int?, now: Int64) throws(StoreError) -> Int {
        try shared.pruneAudit(maxAge: maxAge, maxEvents: maxEvents, now: now) + local.pruneAudit(maxAge: maxAge, maxEvents: maxEvents, now: now)
    }

    /// Refused, before anything changes: the two stores cannot be re-sealed in one
    /// transaction, and a failure between them would leave one under a key the key
    /// file no longer holds (the node, or the whole tier, would then refuse to start).
    /// A tier's rekey is its own staged procedure, which the daemon's `admin.rekey`
    /// runs on a tier node (TierKeys in OTPGateServer, docs/OPERATIONS.md).
    public func rekey(to newKey: MasterKey, now: Int64) throws(StoreError) -> Int {
        throw StoreError(
            .conflict,
            "a tier node's stores change keys by the tier's staged rekey (master.key.next on every node, then otpgate admin rekey: docs/OPERATIONS.md, Rekey), not in one step")
    }

    public func close() {
        shared.close()
        local.close()
    }

    /// The shared store's state, unless the local one (the break-glass users') fails.
    public func checkHealth() -> StoreHealth {
        let here = local.checkHealth()
        guard here.state == .ok else { return StoreHealth(here.state, detail: "the local store: " + (here.detail ?? here.state.rawValue)) }
        return shared.checkHealth()
    }

    public func sealedSecretsByKey() throws(StoreError) -> [String: Int] {
        try shared.sealedSecretsByKey().merging(local.sealedSecretsByKey(), uniquingKeysWith: +)
    }
}
