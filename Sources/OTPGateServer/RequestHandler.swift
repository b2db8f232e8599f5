import Foundation
public import Logging
import OTPCore
public import OTPGateProtocol
public import OTPGateStoreContract
import OTPGateVersion
import Synchronization

/// Answers parsed requests for a known peer: authorization, then the operation, then
/// the reply. Synchronous and blocking (SQLite, scrypt): the listener runs it on a
/// thread pool, never on an event loop.
public final class RequestHandler: Sendable {
    public static let version = OTPGateVersion.current

    let store: any StoreContract
    let config: ServerConfig
    let clock: ClockMonitor
    let logger: Logger
    let users: SystemUsers
    let issuer: String
    let startedAt: Int64
    let now: @Sendable () -> Int64
    /// Where the master key was loaded from: `admin.rekey` replaces that file.
    let keySource: String
    let rekeying = Mutex(false)
    /// On a tier node: its keys, and `admin.rekey` is the rekey across the tier.
    let tierKeys: TierKeys?
    /// Refused requests, coalesced per uid (RequestHandler+Refusals.swift).
    let refusals: RefusalAudit

    public init(
        store: any StoreContract, config: ServerConfig, clock: ClockMonitor, logger: Logger, keySource: String,
        users: SystemUsers = SystemUsers(), tierKeys: TierKeys? = nil,
        now: @escaping @Sendable () -> Int64 = RequestHandler.systemTime
    ) {
        self.tierKeys = tierKeys
        self.store = store
        self.config = config
        self.clock = clock
        self.logger = logger
        self.users = users
        self.keySource = keySource
        self.now = now
        self.refusals = RefusalAudit(interval: .seconds(config.refusalAuditWindow))
        self.startedAt = now()
        self.issuer = config.issuer.isEmpty ? (ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "otpgate") : config.issuer
    }

    /// Seconds since the Unix epoch from the system clock.
    public static let systemTime: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    /// One request, one reply. Never throws: every failure becomes an error reply.
    public func handle(_ request: Request, peer: Peer) -> Answer {
        let id = request.id
        let payload = request.payload
        let time = now()
        switch Authorizer.decide(payload, peer: peer) {
        case .forbidden(let reason):
            auditRefusal(payload, peer: peer, time: time)
            return Answer(.failure(id: id, code: .forbidden, message: reason))
        case .allowed(let asAdmin):
            do {
                return try dispatch(payload, id: id, peer: peer, asAdmin: asAdmin, now: time)
            } catch {
                return Answer(failure(for: error, id: id, op: payload.operation))
            }
        }
    }

    /// enroll.begin, enroll.confirm and recovery.regenerate answer with secrets; the
    /// rest with a plain reply.
    private func dispatch(_ payload: Request.Payload, id: String?, peer: Peer, asAdmin: Bool, now: Int64) throws -> Answer {
        switch payload {
        case .enrollBegin(let r): return try enrollBegin(r, id: id, peer: peer, asAdmin: asAdmin, now: now)
        case .enrollConfirm(let r): return try enrollConfirm(r, id: id, peer: peer, now: now)
        case .recoveryRegenerate(let r): return try recoveryRegenerate(r, id: id, peer: peer, asAdmin: asAdmin, now: now)
        case .verify(let r): return Answer(try verify(r, id: id, peer: peer, now: now))
        case .verifyPrecheck(let r): return Answer(try verifyPrecheck(r, id: id, peer: peer, now: now))
        case .verifyCandidates(let r): return Answer(try verifyCandidates(r, id: id, peer: peer, now: now))
        case .status(let r): return Answer(try status(user: r.user, id: id, now: now))
        case .enrollCancel(let r): return Answer(try enrollCancel(r, id: id, peer: peer, now: now))
        case .tokenRemove(let r): return Answer(try tokenRemove(r, id: id, peer: peer, asAdmin: asAdmin, now: now))
        case .health: return Answer(health(id: id, now: now))
        case .adminList: return Answer(try adminList(id: id, now: now))
        case .adminReset(let r): return Answer(try adminReset(user: r.user, id: id, peer: peer, now: now))
        case .adminUnlock(let r): return Answer(try adminUnlock(user: r.user, id: id, peer: peer, now: now))
        case .adminAudit(let r): return Answer(try adminAudit(r, id: id))
        case .adminRekey: return Answer(adminRekey(id: id, peer: peer, now: now))
        case .adminImport(let r): return Answer(try adminImport(r, id: id, peer: peer, now: now))
        case .tokenResync(let r): return Answer(try tokenResync(r, id: id, peer: peer, asAdmin: asAdmin, now: now))
        }
    }

    /// Maps store errors to wire errors. Store faults (key, decryption, I/O) become
    /// `unavailable`, so the PAM module fails closed with "try later" rather than
    /// "wrong code".
    func failure(for error: any Error, id: String?, op: WireOperation) -> Reply {
        guard let e = error as? StoreError else {
            logger.error("request failed", metadata: ["request.op": "\(op.rawValue)", "error": "\(type(of: error))"])
            return .failure(id: id, code: .internal, message: "internal error")
        }
        switch e.code {
        case .conflict: return .failure(id: id, code: .conflict, message: e.message)
        case .invalidInput: return .failure(id: id, code: .badRequest, message: e.message)
        case .expired: return .failure(id: id, code: .enrollmentExpired, message: e.message)
        case .notFound: return .failure(id: id, code: .conflict, message: e.message)
        case .keyMissing, .keyInvalid, .keyMismatch, .decryptionFailed, .unsafePath, .database, .crypto, .storeMissing,
            .storeRolledBack, .storeNewer, .unavailable:
            logger.error("store fault", metadata: ["request.op": "\(op.rawValue)", "error": "\(e.message)"])
            return .failure(id: id, code: .unavailable, message: "the store is unavailable; see the daemon's log")
        }
    }

    // MARK: - Shared pieces

    func isRequired(_ user: String) -> Bool {
        !config.requiredGroups.isEmpty && !users.groups(of: user).isDisjoint(with: config.requiredGroups)
    }

    func notEnrolled(_ user: String, id: String?) -> Reply {
        .failure(
            id: id, code: .notEnrolled, message: "user \(user) has no second factor enrolled",
            extra: ["required": .bool(isRequired(user))])
    }

    func retryAfter(_ state: LimitState, now: Int64) -> Int? {
        switch state {
        case .open, .lockedOut: nil
        case .limited(let until): Int(max(1, until - now))
        }
    }

    func rateLimited(_ state: LimitState, id: String?, now: Int64) -> Reply {
        if state == .lockedOut {
            return .failure(
                id: id, code: .rateLimited,
                message: "too many failed attempts: locked until an administrator runs 'otpgate admin unlock'")
        }
        let wait = retryAfter(state, now: now) ?? 1
        return .failure(id: id, code: .rateLimited, message: "too many failed attempts: wait \(wait) s", retryAfter: wait)
    }

    func audit(_ event: String, user: String?, peer: Peer, now: Int64, service: String? = nil, rhost: String? = nil, detail: String? = nil) -> AuditEvent {
        AuditEvent(
            time: now, event: event, user: user, peerUID: Int64(peer.uid), service: service, rhost: rhost, detail: detail,
            relay: peer.host)
    }
}
