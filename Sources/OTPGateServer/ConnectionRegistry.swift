import NIOCore
import Synchronization

/// Open connections: caps them (in total and per uid), and lets shutdown close the
/// idle ones at once while busy ones finish their request first.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        let uid: UInt32
        var busy: Bool
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perUID: [UInt32: Int] = [:]
        var draining = false
    }

    private let state = Mutex(State())
    let maxTotal: Int
    let maxPerUID: Int

    init(maxTotal: Int, maxPerUID: Int) {
        self.maxTotal = maxTotal
        self.maxPerUID = maxPerUID
    }

    /// Admits a connection, or says why not. Root and the daemon's uid are exempt
    /// from the per-uid cap: every sshd and sudo login arrives as root.
    func admit(_ channel: any Channel, uid: UInt32, exemptFromUIDCap: Bool) -> String? {
        state.withLock { s in
            if s.draining { return "the daemon is shutting down" }
            if s.entries.count >= maxTotal { return "too many open connections" }
            let mine = s.perUID[uid, default: 0]
            if !exemptFromUIDCap && mine >= maxPerUID { return "too many open connections for uid \(uid)" }
            s.entries[ObjectIdentifier(channel)] = Entry(channel: channel, uid: uid, busy: false)
            s.perUID[uid] = mine + 1
            return nil
        }
    }

    func remove(_ channel: any Channel) {
        state.withLock { s in
            guard let e = s.entries.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            s.perUID[e.uid, default: 1] -= 1
            if s.perUID[e.uid] == 0 { s.perUID[e.uid] = nil }
        }
    }

    /// Marks a connection busy (a request is being answered) or idle. Returns whether
    /// the daemon is draining, in which case an idle connection should close.
    @discardableResult
    func setBusy(_ channel: any Channel, _ busy: Bool) -> Bool {
        state.withLock { s in
            s.entries[ObjectIdentifier(channel)]?.busy = busy
            return s.draining
        }
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Stops admitting and closes every idle connection; busy ones close themselves
    /// after their reply.
    func drain() {
        let idle = state.withLock { s -> [any Channel] in
            s.draining = true
            return s.entries.values.filter { !$0.busy }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }
}
