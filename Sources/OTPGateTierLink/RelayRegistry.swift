import NIOCore
public import OTPGateConfig
import Synchronization

/// What the listener knows about the relays connected now: their open connections by
/// identity (for the per-relay connection limit and for closing a relay that is
/// denied on reload), a token bucket per identity (the per-relay request rate), and
/// the current deny list. Shared by every connection of every listening address.
public final class RelayRegistry: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    struct State {
        var deny: DenyList
        var connections: [String: [ObjectIdentifier: any Channel]] = [:]
        var fingerprints: [ObjectIdentifier: String] = [:]
        var buckets: [String: Bucket] = [:]
    }

    let maxConnectionsPerRelay: Int
    let requestsPerSecond: Int
    private let state: Mutex<State>

    public init(deny: DenyList, maxConnectionsPerRelay: Int, requestsPerSecond: Int) {
        self.maxConnectionsPerRelay = maxConnectionsPerRelay
        self.requestsPerSecond = requestsPerSecond
        state = Mutex(State(deny: deny))
    }

    /// Admits a connection of relay `name`, or says why not (denied, too many open).
    func admit(_ channel: any Channel, name: String, fingerprint: String) -> String? {
        state.withLock { s in
            if s.deny.denies(name: name, fingerprint: fingerprint) {
                return "the certificate of relay \(name) is denied on this tier"
            }
            let open = s.connections[name, default: [:]]
            guard open.count < maxConnectionsPerRelay else {
                return "relay \(name) has \(open.count) connections open, the most this tier allows per relay"
            }
            s.connections[name, default: [:]][ObjectIdentifier(channel)] = channel
            s.fingerprints[ObjectIdentifier(channel)] = fingerprint
            return nil
        }
    }

    func remove(_ channel: any Channel, name: String) {
        state.withLock { s in
            s.connections[name]?[ObjectIdentifier(channel)] = nil
            if s.connections[name]?.isEmpty == true {
                s.connections[name] = nil
                s.buckets[name] = nil
            }
            s.fingerprints[ObjectIdentifier(channel)] = nil
        }
    }

    /// Takes one request from relay `name`'s bucket; false when it is empty.
    func take(name: String, now: ContinuousClock.Instant = .now) -> Bool {
        let rate = Double(requestsPerSecond)
        return state.withLock { s in
            var bucket = s.buckets[name] ?? Bucket(tokens: rate, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            bucket.tokens = min(rate, bucket.tokens + seconds * rate)
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            s.buckets[name] = bucket
            return allowed
        }
    }

    /// Replaces the deny list and closes every open connection it now denies. Returns
    /// how many it closed.
    @discardableResult
    public func replaceDenyList(_ deny: DenyList) -> Int {
        let doomed: [any Channel] = state.withLock { s in
            s.deny = deny
            var doomed: [any Channel] = []
            for (name, channels) in s.connections {
                for (id, channel) in channels where deny.denies(name: name, fingerprint: s.fingerprints[id] ?? "") {
                    doomed.append(channel)
                }
            }
            return doomed
        }
        for channel in doomed { channel.close(promise: nil) }
        return doomed.count
    }

    /// Open connections of relay `name` (for tests and health).
    public func connections(of name: String) -> Int {
        state.withLock { $0.connections[name]?.count ?? 0 }
    }
}
