public import OTPCore

/// The store contract: every operation the daemon's request handler needs from a
/// store, each atomic on its own. Two backends conform: the SQLite store of one host
/// (`OTPStore`, module OTPGateStore) and the PostgreSQL store shared by a verifier
/// tier. The request handler talks only to this protocol.
///
/// Rules every conformer keeps (the contract suite checks them on both):
/// - a mutating call returns only after its change (and the audit row passed with it)
///   is durable; when that cannot be known, it throws `StoreError(.unavailable)` —
///   never success;
/// - `acceptCode`, `consumeRecoveryCode` and `consumeScratchCode` are compare-and-set:
///   of parallel callers with the same step or code, exactly one is accepted;
/// - limiter decisions are made and counted in one step (`reserveAttempt`), so no
///   guess is evaluated beyond the policy under any concurrency;
/// - `now` is the caller's clock. A backend with a clock of its own (a database
///   shared by several hosts) uses that instead, and says which time it used where
///   the caller computes with it (`VerificationContext.time`);
/// - secrets cross the contract in plaintext only inside `VerifiableToken`,
///   `PendingEnrollment` and the arguments that create them; at rest they are sealed
///   with the master key, bound to their user and row.
public protocol StoreContract: AnyObject, Sendable {
    /// Where the store is, for log lines and health (a file path, or a database name).
    var location: String { get }
    var limiterPolicy: LimiterPolicy { get }
    var recoveryHasher: RecoveryCodeHasher { get }
    var keyID: KeyID { get }
    var writeStatistics: WriteStatistics { get }

    // MARK: Verification

    func verificationContext(user: String, rhost: String?, now: Int64) throws(StoreError) -> VerificationContext
    func decoyTokens() throws(StoreError) -> [VerifiableToken]
    func reserveAttempt(user: String, rhost: String?, now: Int64, context: VerificationContext?) throws(StoreError) -> Admission
    func acceptCode(
        user: String, tokenID: String, counter: UInt64, drift: Int, rhost: String?, now: Int64,
        audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> AcceptResult
    func recordFailure(
        user: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> FailureResult
    func recordNotEnrolled(
        user: String, rhost: String?, now: Int64, audit: AuditEvent, reservation: AttemptReservation?
    ) throws(StoreError)
    func consumeRecoveryCode(
        user: String, input: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult
    func consumeScratchCode(
        user: String, input: String, rhost: String?, now: Int64, audit: AuditEvent?, reservation: AttemptReservation?
    ) throws(StoreError) -> RecoveryResult
    func limitState(user: String, rhost: String?, now: Int64) throws(StoreError) -> LimitState
    func precheckState(user: String, rhost: String?, now: Int64) throws(StoreError) -> PrecheckState

    // MARK: Tokens and codes

    func tokens(user: String) throws(StoreError) -> [TokenInfo]
    func verifiableTokens(user: String) throws(StoreError) -> [VerifiableToken]
    func removeToken(user: String, tokenID: String, audit: AuditEvent?) throws(StoreError) -> Int
    func resyncToken(
        user: String, tokenID: String, watermark: UInt64, skew: Int, drift: Int, now: Int64, audit: AuditEvent?
    ) throws(StoreError) -> AcceptResult
    func recoveryCodesRemaining(user: String) throws(StoreError) -> Int
    func scratchCodesRemaining(user: String) throws(StoreError) -> Int
    func replaceRecoveryCodes(user: String, batch: RecoveryCodeBatch, now: Int64, audit: AuditEvent?) throws(StoreError)
    func importTokens(
        user: String, tokens: [ImportedToken], scratchCodes: ScratchCodeBatch?, mode: ImportMode, dryRun: Bool,
        now: Int64, audit: (@Sendable (String) -> AuditEvent)?
    ) throws(StoreError) -> ImportOutcome

    // MARK: Enrolment

    func beginEnrollment(
        user: String, name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64,
        now: Int64, ttl: Int64, audit: AuditEvent?
    ) throws(StoreError) -> PendingEnrollment
    func pendingEnrollment(id: String, user: String, now: Int64) throws(StoreError) -> PendingEnrollment
    func pendingEnrollments(user: String, now: Int64) throws(StoreError) -> [PendingEnrollmentInfo]
    func confirmEnrollment(
        id: String, user: String, counter: UInt64, drift: Int, recoveryCodes: RecoveryCodeBatch?, now: Int64,
        audit: (@Sendable (TokenInfo, Bool) -> AuditEvent)?
    ) throws(StoreError) -> (token: TokenInfo, storedRecoveryCodes: Bool)
    func cancelEnrollment(id: String, user: String, audit: AuditEvent?) throws(StoreError) -> Bool
    func purgeExpiredEnrollments(now: Int64, grace: Int64) throws(StoreError) -> Int

    // MARK: Administration

    func listUsers(now: Int64) throws(StoreError) -> [UserSummary]
    func resetUser(_ user: String, audit: AuditEvent?) throws(StoreError) -> Bool
    func unlock(user: String, audit: AuditEvent?) throws(StoreError) -> Bool
    func appendAudit(_ event: AuditEvent) throws(StoreError) -> Int64
    func auditEvents(user: String?, since: Int64?, limit: Int) throws(StoreError) -> [AuditEvent]
    func pruneAudit(maxAge: Int64?, maxEvents: Int?, now: Int64) throws(StoreError) -> Int
    /// Re-seals every secret under `newKey`; returns how many.
    func rekey(to newKey: MasterKey, now: Int64) throws(StoreError) -> Int
    /// Sealed secrets per key id (the rekey check: none left under the old key).
    func sealedSecretsByKey() throws(StoreError) -> [String: Int]

    /// Whether the store answers and takes writes, for `health` and `doctor`.
    func checkHealth() -> StoreHealth

    /// Closes what the store holds open (a database's connections) when the daemon
    /// stops; nothing is called after it.
    func close()
}

/// What `health` says about a store.
public struct StoreHealth: Sendable, Hashable {
    public enum State: String, Sendable {
        case ok
        /// It does not answer.
        case unavailable
        /// It answers, but writes are refused (a standby, or acknowledged commits could
        /// be lost on failover): every verify is answered `unavailable`.
        case writesRefused = "writes_refused"
    }

    public let state: State
    /// One line: why, with what was seen; nil when there is nothing to add.
    public let detail: String?

    public init(_ state: State, detail: String? = nil) {
        self.state = state
        self.detail = detail
    }
}

/// A pending enrolment expires after its ttl; its row stays this long after that, so
/// that a late confirm is told "expired" rather than "unknown".
public let expiredEnrollmentGrace: Int64 = 86_400

/// The short forms callers use: defaults live here, once, for every backend.
extension StoreContract {
    /// A store with nothing of its own to close (a file the process drops at exit).
    public func close() {}

    public func verificationContext(user: String, now: Int64) throws(StoreError) -> VerificationContext {
        try verificationContext(user: user, rhost: nil, now: now)
    }

    public func reserveAttempt(user: String, rhost: String? = nil, now: Int64) throws(StoreError) -> Admission {
        try reserveAttempt(user: user, rhost: rhost, now: now, context: nil)
    }

    @discardableResult
    public func acceptCode(
        user: String, tokenID: String, counter: UInt64, drift: Int, now: Int64, audit: AuditEvent? = nil
    ) throws(StoreError) -> AcceptResult {
        try acceptCode(user: user, tokenID: tokenID, counter: counter, drift: drift, rhost: nil, now: now, audit: audit, reservation: nil)
    }

    @discardableResult
    public func recordFailure(user: String, rhost: String? = nil, now: Int64, audit: AuditEvent? = nil) throws(StoreError) -> FailureResult {
        try recordFailure(user: user, rhost: rhost, now: now, audit: audit, reservation: nil)
    }

    public func consumeRecoveryCode(user: String, input: String, rhost: String? = nil, now: Int64) throws(StoreError) -> RecoveryResult {
        try consumeRecoveryCode(user: user, input: input, rhost: rhost, now: now, audit: nil, reservation: nil)
    }

    public func consumeScratchCode(user: String, input: String, rhost: String? = nil, now: Int64) throws(StoreError) -> RecoveryResult {
        try consumeScratchCode(user: user, input: input, rhost: rhost, now: now, audit: nil, reservation: nil)
    }

    public func limitState(user: String, now: Int64) throws(StoreError) -> LimitState {
        try limitState(user: user, rhost: nil, now: now)
    }

    public func beginEnrollment(
        user: String, name: String, parameters: OTPParameters, secret: [UInt8], now: Int64, ttl: Int64
    ) throws(StoreError) -> PendingEnrollment {
        try beginEnrollment(user: user, name: name, parameters: parameters, secret: secret, initialCounter: 0, now: now, ttl: ttl, audit: nil)
    }

    public func confirmEnrollment(
        id: String, user: String, counter: UInt64, drift: Int, recoveryCodes: RecoveryCodeBatch?, now: Int64
    ) throws(StoreError) -> (token: TokenInfo, storedRecoveryCodes: Bool) {
        try confirmEnrollment(id: id, user: user, counter: counter, drift: drift, recoveryCodes: recoveryCodes, now: now, audit: nil)
    }

    @discardableResult
    public func cancelEnrollment(id: String, user: String) throws(StoreError) -> Bool {
        try cancelEnrollment(id: id, user: user, audit: nil)
    }

    public func purgeExpiredEnrollments(now: Int64) throws(StoreError) -> Int {
        try purgeExpiredEnrollments(now: now, grace: expiredEnrollmentGrace)
    }

    @discardableResult
    public func removeToken(user: String, tokenID: String) throws(StoreError) -> Int {
        try removeToken(user: user, tokenID: tokenID, audit: nil)
    }

    @discardableResult
    public func resetUser(_ user: String) throws(StoreError) -> Bool { try resetUser(user, audit: nil) }

    @discardableResult
    public func unlock(user: String) throws(StoreError) -> Bool { try unlock(user: user, audit: nil) }

    public func replaceRecoveryCodes(user: String, batch: RecoveryCodeBatch, now: Int64) throws(StoreError) {
        try replaceRecoveryCodes(user: user, batch: batch, now: now, audit: nil)
    }

    public func resyncToken(
        user: String, tokenID: String, watermark: UInt64, skew: Int, drift: Int, now: Int64
    ) throws(StoreError) -> AcceptResult {
        try resyncToken(user: user, tokenID: tokenID, watermark: watermark, skew: skew, drift: drift, now: now, audit: nil)
    }

    public func importTokens(
        user: String, tokens: [ImportedToken], scratchCodes: ScratchCodeBatch?, mode: ImportMode, dryRun: Bool, now: Int64
    ) throws(StoreError) -> ImportOutcome {
        try importTokens(user: user, tokens: tokens, scratchCodes: scratchCodes, mode: mode, dryRun: dryRun, now: now, audit: nil)
    }
}
