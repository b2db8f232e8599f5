import Synchronization

/// Coalesces refused requests (`forbidden`) per uid: the first refusal in a window is
/// audited and logged in full, the rest of the window only counted, and the count is
/// written as one `forbidden.repeated` event when the window ends. So one uid costs
/// the store at most two rows per window however fast it asks, and the trail still
/// says how many refusals there were. Windows are timed on the monotonic clock.
final class RefusalAudit: Sendable {
    /// A window that ended with refusals not audited one by one.
    struct Summary: Equatable, Sendable {
        let uid: UInt32
        let count: Int
        /// Wall-clock seconds of the first and last counted refusal.
        let from: Int64
        let to: Int64
    }

    private struct Window {
        var opened: ContinuousClock.Instant
        var count = 0
        var from: Int64 = 0
        var to: Int64 = 0
    }

    let interval: Duration
    private let windows = Mutex<[UInt32: Window]>([:])

    init(interval: Duration) {
        self.interval = interval
    }

    /// Records a refusal by `uid` at wall time `time`. Returns true when it opens a
    /// window (audit it in full), false when it was only counted; `ended` is the
    /// summary of this uid's previous window, if that one had counted refusals.
    func record(uid: UInt32, time: Int64, now: ContinuousClock.Instant = .now) -> (audit: Bool, ended: Summary?) {
        windows.withLock { w in
            if var open = w[uid], interval > .zero, now - open.opened < interval {
                if open.count == 0 { open.from = time }
                open.count += 1
                open.to = time
                w[uid] = open
                return (false, nil)
            }
            let ended = w[uid].flatMap(Self.summary(uid))
            w[uid] = Window(opened: now)
            return (true, ended)
        }
    }

    /// Closes every window older than the interval (every window, with `all`: at
    /// shutdown); returns those with a count.
    func expired(now: ContinuousClock.Instant = .now, all: Bool = false) -> [Summary] {
        windows.withLock { w in
            let old = w.filter { all || now - $0.value.opened >= interval }
            for uid in old.keys { w[uid] = nil }
            return old.compactMap { Self.summary($0.key)($0.value) }.sorted { $0.uid < $1.uid }
        }
    }

    private static func summary(_ uid: UInt32) -> (Window) -> Summary? {
        { $0.count > 0 ? Summary(uid: uid, count: $0.count, from: $0.from, to: $0.to) : nil }
    }
}
