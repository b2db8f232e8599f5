import Logging
import OTPGateProtocol
import OTPGateStore  // KeyRotation: the key file beside a store on this host
import Synchronization

extension RequestHandler {
    func health(id: String?, now: Int64) -> Reply {
        let state = store.checkHealth()
        return .success(
            id: id,
            result: HealthResult(
                version: Self.version, uptime: Int(now - startedAt), clockSynced: clock.isSynchronized, store: state.state.rawValue,
                storeDetail: state.detail, time: now))
    }

    func adminList(id: String?, now: Int64) throws -> Reply {
        let users = try store.listUsers(now: now).map { u in
            AdminListResult.User(
                user: u.user, tokens: u.tokens, recoveryRemaining: u.recoveryRemaining, failures: u.failures,
                lockedUntil: u.lockedUntil.map(Timestamp.init(unixSeconds:)), lockedOut: u.lockedOut,
                lastUsedAt: u.lastUsedAt.map(Timestamp.init(unixSeconds:)))
        }
        return .success(id: id, result: AdminListResult(users: users))
    }

    func adminReset(user: String, id: String?, peer: Peer, now: Int64) throws -> Reply {
        guard try store.resetUser(user, audit: audit("admin.reset", user: user, peer: peer, now: now)) else {
            return notEnrolled(user, id: id)
        }
        logger.notice("user reset", metadata: ["user.name": "\(user)", "peer.uid": "\(peer.uid)"])
        return .success(id: id)
    }

    func adminUnlock(user: String, id: String?, peer: Peer, now: Int64) throws -> Reply {
        guard try store.unlock(user: user, audit: audit("admin.unlock", user: user, peer: peer, now: now)) else {
            return notEnrolled(user, id: id)
        }
        logger.notice("user unlocked", metadata: ["user.name": "\(user)", "peer.uid": "\(peer.uid)"])
        return .success(id: id)
    }

    func adminAudit(_ r: AdminAuditRequest, id: String?) throws -> Reply {
        let events = try store.auditEvents(user: r.user, since: r.since?.unixSeconds, limit: r.limit ?? 100).map { e in
            AdminAuditResult.Event(
                time: Timestamp(unixSeconds: e.time), event: e.event, user: e.user, peerUID: e.peerUID,
                service: e.service, rhost: e.rhost, detail: e.detail, relay: e.relay)
        }
        return .success(id: id, result: AdminAuditResult(events: events))
    }

    /// Re-encrypts every secret under a new key and replaces the key file, online:
    /// verifies keep working throughout (the old key stays readable in memory).
    func adminRekey(id: String?, peer: Peer, now: Int64) -> Reply {
        if let tierKeys { return adminTierRekey(tierKeys, id: id, peer: peer, now: now) }
        if KeyFile.isCredential(keySource) {
            return .failure(
                id: id, code: .conflict,
                message: "the key comes from a systemd credential (\(keySource)), which the daemon cannot replace; rotate it offline")
        }
        guard rekeying.withLock({ busy in defer { busy = true }; return !busy }) else {
            return .failure(id: id, code: .conflict, message: "a rekey is already running")
        }
        defer { rekeying.withLock { $0 = false } }
        let before = store.keyID
        do {
            let key = try KeyRotation.rotate(store: store, keyFile: keySource, now: now)
            let count = try store.sealedSecretsByKey()[key.id.description] ?? 0
            try store.appendAudit(audit("admin.rekey", user: nil, peer: peer, now: now, detail: "key \(before) -> \(key.id), \(count) secrets"))
            logger.notice("master key rotated", metadata: ["key.old": "\(before)", "key.new": "\(key.id)", "peer.uid": "\(peer.uid)"])
            return .success(id: id, result: AdminRekeyResult(keyID: key.id.description, secrets: count))
        } catch {
            logger.error("rekey failed", metadata: ["error": "\(error.message)"])
            // Key file errors name paths and fixes, never key material.
            return .failure(id: id, code: .conflict, message: "rekey failed: \(error.message)")
        }
    }

    /// The rekey across the tier (TierKeys): the database audits its begin and its
    /// finish (admin.rekey_begin, admin.rekey, under this node's role).
    func adminTierRekey(_ tierKeys: TierKeys, id: String?, peer: Peer, now: Int64) -> Reply {
        let before = tierKeys.currentKey.id
        do {
            let (key, count) = try tierKeys.rekey(now: now)
            logger.notice("tier master key rotated", metadata: ["key.old": "\(before)", "key.new": "\(key.id)", "peer.uid": "\(peer.uid)"])
            return .success(id: id, result: AdminRekeyResult(keyID: key.id.description, secrets: count))
        } catch {
            logger.error("tier rekey failed", metadata: ["error": "\(error.message)"])
            return .failure(id: id, code: .conflict, message: "rekey failed: \(error.message)")
        }
    }
}
