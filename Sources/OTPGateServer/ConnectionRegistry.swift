import NIOCore
import Synchronization

/// Open connections: who may open one, and which one gives way when the daemon is
/// full. Also lets shutdown close the idle ones at once while busy ones finish.
///
/// Logins must not be starved by other local users (every sshd and sudo login
/// connects as root), so:
/// - `reserved` of the `maxTotal` slots are never given to unprivileged uids, and each
///   unprivileged uid holds at most `maxPerUID`;
/// - when the unprivileged slots are full, a uid with fewer connections than the
///   biggest holder takes that holder's least recently used idle connection (fair
///   admission: no mix of uids can lock another uid out);
/// - when every slot is full, root or the daemon's uid takes the least recently used
///   idle connection of anyone. A client that holds connections open, or renews them
///   before the idle timeout (slowloris), only ever loses its own oldest ones.
/// Busy connections (a request in flight) are never taken, nor ones used in the last
/// `graceIdle` (a login that has just connected and is about to send its request).
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        let uid: UInt32
        let privileged: Bool
        var busy: Bool
        /// When it was admitted, or last started or finished a request.
        var lastUsed: ContinuousClock.Instant
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        /// Connections per unprivileged uid (privileged ones have no per-uid cap).
        var perUID: [UInt32: Int] = [:]
        var unprivileged = 0
        var draining = false
        /// Completed (and set to nil) once draining and empty.
        var drained: EventLoopPromise<Void>?
        var drainedFuture: EventLoopFuture<Void>?
        var evicted = 0
    }

    private let state = Mutex(State())
    let maxTotal: Int
    let maxPerUID: Int
    let reserved: Int
    let graceIdle: Duration

    init(maxTotal: Int, maxPerUID: Int, reserved: Int, graceIdle: Duration = .seconds(1)) {
        self.maxTotal = maxTotal
        self.maxPerUID = maxPerUID
        self.reserved = min(reserved, maxTotal)
        self.graceIdle = graceIdle
    }

    /// Admits a connection, or says why not. `privileged`: uid 0 or the daemon's own
    /// uid. A connection that had to make room is closed here.
    func admit(_ channel: any Channel, uid: UInt32, privileged: Bool, now: ContinuousClock.Instant = .now) -> String? {
        let (refusal, victim) = state.withLock { s -> (String?, (any Channel)?) in
            if s.draining { return ("the daemon is shutting down", nil) }
            var victim: ObjectIdentifier?
            let mine = privileged ? 0 : s.perUID[uid, default: 0]
            if privileged {
                if s.entries.count >= maxTotal {
                    victim = leastRecentlyUsedIdle(in: s, now: now) { _ in true }
                    guard victim != nil else { return ("too many open connections", nil) }
                }
            } else {
                if mine >= maxPerUID { return ("too many open connections for uid \(uid)", nil) }
                if s.unprivileged >= maxTotal - reserved || s.entries.count >= maxTotal {
                    // Fair admission: room is taken from the uid holding the most.
                    guard let (biggest, held) = s.perUID.max(by: { $0.value < $1.value }),
                        held > mine + 1
                    else { return ("too many open connections", nil) }
                    victim = leastRecentlyUsedIdle(in: s, now: now) { $0.uid == biggest }
                    guard victim != nil else { return ("too many open connections", nil) }
                }
            }
            var evicted: (any Channel)?
            if let victim, let e = Self.take(victim, from: &s) {
                evicted = e.channel
                s.evicted += 1
            }
            s.entries[ObjectIdentifier(channel)] = Entry(channel: channel, uid: uid, privileged: privileged, busy: false, lastUsed: now)
            if !privileged {
                s.perUID[uid] = mine + 1
                s.unprivileged += 1
            }
            return (nil, evicted)
        }
        victim?.close(promise: nil)
        return refusal
    }

    private func leastRecentlyUsedIdle(in s: State, now: ContinuousClock.Instant, where match: (Entry) -> Bool) -> ObjectIdentifier? {
        s.entries.filter { !$0.value.busy && now - $0.value.lastUsed >= graceIdle && match($0.value) }
            .min { $0.value.lastUsed < $1.value.lastUsed }?.key
    }

    @discardableResult
    private static func take(_ key: ObjectIdentifier, from s: inout State) -> Entry? {
        guard let e = s.entries.removeValue(forKey: key) else { return nil }
        if !e.privileged {
            s.perUID[e.uid, default: 1] -= 1
            if s.perUID[e.uid] == 0 { s.perUID[e.uid] = nil }
            s.unprivileged -= 1
        }
        return e
    }

    func remove(_ channel: any Channel) {
        let done = state.withLock { s -> EventLoopPromise<Void>? in
            Self.take(ObjectIdentifier(channel), from: &s)
            return Self.takeDrained(&s)
        }
        done?.succeed()
    }

    /// Marks a connection busy (a request is being answered) or idle. Returns whether
    /// the daemon is draining, in which case an idle connection should close.
    @discardableResult
    func setBusy(_ channel: any Channel, _ busy: Bool, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { s in
            s.entries[ObjectIdentifier(channel)]?.busy = busy
            s.entries[ObjectIdentifier(channel)]?.lastUsed = now
            return s.draining
        }
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Connections closed to make room for another, since the start.
    var evictions: Int { state.withLock { $0.evicted } }

    /// Stops admitting and closes every idle connection; busy ones close themselves
    /// after their reply. The future completes when the last connection is gone.
    /// Idempotent.
    @discardableResult
    func drain(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let (idle, future, done) = state.withLock { s -> ([any Channel], EventLoopFuture<Void>, EventLoopPromise<Void>?) in
            s.draining = true
            if s.drainedFuture == nil {
                let promise = eventLoop.makePromise(of: Void.self)
                s.drained = promise
                s.drainedFuture = promise.futureResult
            }
            return (s.entries.values.filter { !$0.busy }.map(\.channel), s.drainedFuture!, Self.takeDrained(&s))
        }
        done?.succeed()
        for channel in idle { channel.close(promise: nil) }
        return future
    }

    private static func takeDrained(_ s: inout State) -> EventLoopPromise<Void>? {
        guard s.draining, s.entries.isEmpty, let promise = s.drained else { return nil }
        s.drained = nil
        return promise
    }
}
