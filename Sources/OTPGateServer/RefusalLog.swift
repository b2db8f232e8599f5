import Logging
import Synchronization

/// Logs refused connections at most once per `interval` per uid, with the count of
/// those not logged: a client that reconnects in a loop must not fill the journal.
final class RefusalLog: Sendable {
    private struct Seen {
        var logged: ContinuousClock.Instant
        var suppressed: Int
    }

    private let logger: Logger
    private let interval: Duration
    private let seen = Mutex<[UInt32: Seen]>([:])

    init(logger: Logger, interval: Duration = .seconds(60)) {
        self.logger = logger
        self.interval = interval
    }

    func connectionRefused(uid: UInt32, reason: String, now: ContinuousClock.Instant = .now) {
        let suppressed = seen.withLock { s -> Int? in
            if let last = s[uid], now - last.logged < interval {
                s[uid]?.suppressed += 1
                return nil
            }
            if s.count > 4096 { s = s.filter { now - $0.value.logged < interval } }
            let count = s[uid]?.suppressed ?? 0
            s[uid] = Seen(logged: now, suppressed: 0)
            return count
        }
        guard let suppressed else { return }
        logger.warning(
            "connection refused",
            metadata: ["peer.uid": "\(uid)", "reason": "\(reason)", "refusals.not_logged": "\(suppressed)"])
    }
}
