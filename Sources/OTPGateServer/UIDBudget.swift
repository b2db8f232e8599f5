import Synchronization

/// A token bucket per unprivileged uid for requests that write to the store, so that
/// no local user can make the daemon write (fsync, audit rows, limiter counts) faster
/// than `rate` per second after a burst of `burst`. Root, the daemon's uid and the
/// verify group are not subject to it: logins never wait for it. Times are
/// monotonic, so a wall-clock step neither empties nor fills a bucket.
final class UIDBudget: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let rate: Double
    let burst: Double
    /// Past this many uids, buckets that have refilled completely are forgotten.
    private static let forgetAbove = 4096
    private let buckets = Mutex<[UInt32: Bucket]>([:])

    init(rate: Int, burst: Int) {
        self.rate = Double(rate)
        self.burst = Double(max(burst, 1))
    }

    /// Takes one token for `uid`: nil when the request may go ahead, otherwise the
    /// whole seconds to wait before the next one would.
    func take(uid: UInt32, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { b in
            var bucket = b[uid] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + seconds(now - bucket.updated) * rate)
            bucket.updated = now
            defer {
                b[uid] = bucket
                if b.count > Self.forgetAbove { forgetFull(&b, now: now) }
            }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }

    private func forgetFull(_ b: inout [UInt32: Bucket], now: ContinuousClock.Instant) {
        b = b.filter { $0.value.tokens + seconds(now - $0.value.updated) * rate < burst }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
