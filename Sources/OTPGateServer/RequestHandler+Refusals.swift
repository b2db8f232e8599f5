import Logging
import OTPGateProtocol
import OTPGateStoreContract

extension RequestHandler {
    /// Logs and audits a refused request, coalesced per uid (see `RefusalAudit`): a
    /// caller that asks for what it may not have, in a loop, costs a row per window,
    /// not a row (and an fsync) per request.
    func auditRefusal(_ payload: Request.Payload, peer: Peer, time: Int64) {
        let (full, ended) = refusals.record(uid: peer.uid, time: time)
        var events: [AuditEvent] = []
        if let ended { events.append(Self.repeatedRefusals(ended)) }
        if full {
            logger.notice(
                "request refused",
                metadata: ["request.op": "\(payload.operation.rawValue)", "user.name": "\(payload.user ?? "-")",
                           "peer.uid": "\(peer.uid)", "peer.pid": "\(peer.pid)", "peer.socket": "\(peer.socket.rawValue)"])
            events.append(AuditEvent(
                time: time, event: "forbidden", user: payload.user, peerUID: Int64(peer.uid),
                detail: "\(payload.operation.rawValue) on the \(peer.socket.rawValue) socket", relay: peer.host))
        }
        write(events)
    }

    /// Writes the counts of refusal windows that have ended (housekeeping), or of
    /// every window (`all`, at shutdown).
    func flushRefusals(all: Bool = false) {
        write(refusals.expired(all: all).map(Self.repeatedRefusals))
    }

    private static func repeatedRefusals(_ s: RefusalAudit.Summary) -> AuditEvent {
        AuditEvent(
            time: s.to, event: "forbidden.repeated", user: nil, peerUID: Int64(s.uid),
            detail: "\(s.count) more refused requests from uid \(s.uid) between \(Timestamp(unixSeconds: s.from).rfc3339) and \(Timestamp(unixSeconds: s.to).rfc3339), not audited one by one")
    }

    private func write(_ events: [AuditEvent]) {
        for event in events {
            do {
                try store.appendAudit(event)
            } catch {
                logger.error("could not audit a refusal", metadata: ["error": "\(error)"])
            }
        }
    }
}
