import Logging
import OTPGateProtocol
import OTPGateStore

extension RequestHandler {
    func health(id: String?, now: Int64) -> Reply {
        let storeState: String
        do {
            _ = try store.recoveryCodesRemaining(user: "")
            storeState = "ok"
        } catch {
            storeState = "unavailable"
        }
        return .success(
            id: id,
            result: HealthResult(
                version: Self.version, uptime: Int(now - startedAt), clockSynced: clock.isSynchronized, store: storeState))
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
                service: e.service, rhost: e.rhost, detail: e.detail)
        }
        return .success(id: id, result: AdminAuditResult(events: events))
    }
}
