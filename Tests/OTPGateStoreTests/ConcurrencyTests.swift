import Dispatch
import Foundation
import GRDB
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Synchronization
import Testing

@Suite("Concurrency", .ownThreads)
struct ConcurrencyTests {
    let now: Int64 = 1_700_000_000

    @Test func sameCodeFromManyTasksIsAcceptedOnce() async throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        let store = f.store
        let results = await withTaskGroup(of: AcceptResult?.self) { group in
            for _ in 0..<50 {
                // Each blocking call on a thread of its own: on Swift's cooperative pool
                // (one thread per core) 50 fsyncs would run two at a time, and every
                // other async test in the process would wait behind them.
                group.addTask {
                    try? await onThread { try store.acceptCode(user: "alice", tokenID: token.id, counter: 101, drift: 0, now: 1_700_000_000) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 == .accepted }.count == 1)
        #expect(results.filter { $0 == .replayed }.count == 49)
    }

    @Test func sameCodeFromManyThreadsIsAcceptedOnce() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        let accepted = Atomic<Int>(0)
        let other = Atomic<Int>(0)
        let store = f.store
        DispatchQueue.concurrentPerform(iterations: 40) { _ in
            let r = try? store.acceptCode(user: "alice", tokenID: token.id, counter: 150, drift: 0, now: 1_700_000_000)
            if r == .accepted { accepted.add(1, ordering: .relaxed) } else { other.add(1, ordering: .relaxed) }
        }
        #expect(accepted.load(ordering: .relaxed) == 1)
        #expect(other.load(ordering: .relaxed) == 39)
    }

    @Test func sameCodeFromSeveralProcessesIsAcceptedOnce() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (token, _) = try f.enroll("alice", counter: 100)
        let children = try (0..<8).map { _ in
            try harness(["accept", f.dbPath, f.keyPath, "alice", token.id, "101"])
        }
        // Every child has opened the store before any of them races.
        for c in children { #expect(c.readLine() == "ready") }
        for c in children { try c.go() }
        let outcomes = children.map { $0.readLine() ?? "no output" }
        for c in children { #expect(c.wait() == 0) }
        #expect(outcomes.filter { $0 == "accepted" }.count == 1, "\(outcomes)")
        #expect(outcomes.filter { $0 == "replayed" }.count == 7, "\(outcomes)")
        #expect(try f.store.tokens(user: "alice").first?.watermark == 101)
    }

    @Test func failuresFromSeveralProcessesAreAllCounted() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice")
        let children = try (0..<6).map { _ in try harness(["fail", f.dbPath, f.keyPath, "alice", "25"]) }
        for c in children { #expect(c.readLine() == "ready") }
        for c in children { try c.go() }
        var acks = 0
        for c in children {
            while let line = c.readLine() { if line.hasPrefix("ack ") { acks += 1 } }
            #expect(c.wait() == 0)
        }
        #expect(acks == 150)
        #expect(try f.store.listUsers(now: now).first { $0.user == "alice" }?.failures == 150)
    }

    @Test func failuresFromManyTasksAreAllCounted() async throws {
        let f = try StoreFixture(policy: LimiterPolicy(lockoutFailures: 10_000))
        defer { f.dir.cleanup() }
        let store = f.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<100 {
                group.addTask { try await onThread { _ = try store.recordFailure(user: "bob", rhost: "h\(i % 4)", now: 1_700_000_000) } }
            }
            try await group.waitForAll()
        }
        #expect(try store.listUsers(now: now).first { $0.user == "bob" }?.failures == 100)
    }
}

@Suite("Durability", .ownThreads)
struct DurabilityTests {
    @Test func acknowledgedFailuresSurviveSIGKILL() throws {
        let f = try StoreFixture(policy: LimiterPolicy(lockoutFailures: 1_000_000))
        defer { f.dir.cleanup() }
        var acknowledged = 0
        for round in 0..<3 {
            let child = try harness(["fail-forever", f.dbPath, f.keyPath, "alice"])
            var last = 0
            while let line = child.readLine(), line.hasPrefix("ack ") {
                last = Int(line.dropFirst(4))!
                if last >= 10 + round * 7 { break }
            }
            // Acks written before the kill but not read yet were acknowledged too:
            // without them the count below could be above "at most one more".
            for line in child.kill() where line.hasPrefix("ack ") { last = Int(line.dropFirst(4))! }
            acknowledged += last
            let failures = try f.reopen().listUsers(now: 0).first { $0.user == "alice" }?.failures ?? 0
            // Every acknowledged failure is there; at most one more committed after the last ack.
            #expect(failures >= acknowledged && failures <= acknowledged + 1, "round \(round)")
            acknowledged = failures
        }
    }

    @Test func acknowledgedEnrolmentsSurviveSIGKILL() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let child = try harness(["enroll-forever", f.dbPath, f.keyPath, "carol"])
        var acked: [String] = []
        while let line = child.readLine(), line.hasPrefix("ack ") {
            acked.append(String(line.dropFirst(4)))
            if acked.count == 15 { break }
        }
        #expect(acked.count == 15)
        acked += child.kill().filter { $0.hasPrefix("ack ") }.map { String($0.dropFirst(4)) }
        let store = try f.reopen()
        let ids = Set(try store.verifiableTokens(user: "carol").map(\.info.id))
        #expect(Set(acked).isSubset(of: ids))
        let check = try store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
    }
}
