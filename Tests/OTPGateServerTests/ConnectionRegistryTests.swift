import NIOCore
import NIOEmbedded
@testable import OTPGateServer
import Testing

/// Issue 13 item 7: admission by class and uid, and which connection gives way.
struct ConnectionRegistryTests {
    let t0 = ContinuousClock.now
    func at(_ s: Int) -> ContinuousClock.Instant { t0 + .seconds(s) }

    /// 10 slots, 3 of them for root only, 4 per unprivileged uid.
    func registry() -> ConnectionRegistry { ConnectionRegistry(maxTotal: 10, maxPerUID: 4, reserved: 3) }

    func open(_ r: ConnectionRegistry, uid: UInt32, privileged: Bool = false, at time: ContinuousClock.Instant) -> (EmbeddedChannel, String?) {
        let channel = EmbeddedChannel()
        _ = try? channel.connect(to: SocketAddress(unixDomainSocketPath: "/peer")).wait()
        return (channel, r.admit(channel, uid: uid, privileged: privileged, now: time))
    }

    @Test func unprivilegedUIDsNeverTakeTheReserve() {
        let r = registry()
        // Two uids, 4 each would be 8, but only 7 slots are unprivileged.
        var refusals: [String?] = []
        for uid in [1000, 1001] as [UInt32] {
            for _ in 0..<4 { refusals.append(open(r, uid: uid, at: at(0)).1) }
        }
        #expect(refusals.compactMap { $0 } == ["too many open connections"])
        #expect(r.count == 7)
        // Root gets the other three without taking anyone's.
        for _ in 0..<3 { #expect(open(r, uid: 0, privileged: true, at: at(0)).1 == nil) }
        #expect(r.count == 10 && r.evictions == 0)
    }

    @Test func theUIDCapHolds() {
        let r = registry()
        for _ in 0..<4 { #expect(open(r, uid: 1000, at: at(0)).1 == nil) }
        #expect(open(r, uid: 1000, at: at(0)).1 == "too many open connections for uid 1000")
    }

    @Test func rootTakesTheLeastRecentlyUsedIdleSlotWhenAllAreFull() throws {
        let r = registry()
        var channels: [EmbeddedChannel] = []
        for i in 0..<10 {
            let (c, refusal) = open(r, uid: 0, privileged: true, at: at(i))
            #expect(refusal == nil)
            channels.append(c)
        }
        // The oldest is busy: it is not taken; the next oldest is.
        r.setBusy(channels[0], true, now: at(0))
        let (_, refusal) = open(r, uid: 0, privileged: true, at: at(20))
        #expect(refusal == nil)
        #expect(channels[0].isActive)
        #expect(!channels[1].isActive, "the least recently used idle connection was closed")
        #expect(r.count == 10 && r.evictions == 1)
    }

    @Test func aConnectionJustMadeIsNotTaken() {
        let r = ConnectionRegistry(maxTotal: 2, maxPerUID: 4, reserved: 0)
        _ = open(r, uid: 0, privileged: true, at: at(0))
        _ = open(r, uid: 0, privileged: true, at: at(0))
        // Within the grace second both are about to send their request.
        #expect(open(r, uid: 0, privileged: true, at: at(0) + .milliseconds(500)).1 == "too many open connections")
        #expect(open(r, uid: 0, privileged: true, at: at(2)).1 == nil)
    }

    @Test func aUIDWithFewConnectionsTakesRoomFromTheBiggestHolder() {
        let r = registry()
        var first: [EmbeddedChannel] = []
        for i in 0..<4 { first.append(open(r, uid: 1000, at: at(i)).0) }
        for _ in 0..<3 { _ = open(r, uid: 1001, at: at(5)) }
        // The 7 unprivileged slots are full; uid 1002 has none, uid 1000 has 4.
        #expect(open(r, uid: 1002, at: at(10)).1 == nil)
        #expect(!first[0].isActive, "uid 1000's oldest connection gave way")
        // Now 1000 and 1001 have 3 each, 1002 has 1: 3 > 1 + 1, so 1002 still may.
        #expect(open(r, uid: 1002, at: at(11)).1 == nil)
        // One of 1000 and 1001 gave way again: 3 and 2, and 1002 has 2: 3 > 2 + 1 is
        // false, so 1002 gets nothing more.
        #expect(open(r, uid: 1002, at: at(12)).1 == "too many open connections")
        #expect(r.evictions == 2)
    }

    @Test func drainingClosesIdleConnectionsAndCompletesWhenTheLastOneIsGone() throws {
        let r = registry()
        let (idle, _) = open(r, uid: 0, privileged: true, at: at(0))
        let (busy, _) = open(r, uid: 1000, at: at(0))
        r.setBusy(busy, true)
        let loop = EmbeddedEventLoop()
        let drained = r.drain(on: loop)
        #expect(!idle.isActive && busy.isActive)
        r.remove(idle)
        #expect(open(r, uid: 0, privileged: true, at: at(1)).1 == "the daemon is shutting down")
        var done = false
        drained.whenSuccess { done = true }
        loop.run()
        #expect(!done)
        #expect(r.setBusy(busy, false), "an idle connection is told to close while draining")
        r.remove(busy)
        loop.run()
        #expect(done)
    }
}
