import Dispatch
import Foundation
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Synchronization
import Testing

/// Imported tokens, scratch codes and resync in the store.
@Suite("Import and resync", .ownThreads)
struct ImportTests {
    let now: Int64 = 1_700_000_000

    func token(_ name: String = "ga", secret: [UInt8]? = nil, watermark: UInt64? = nil, skew: Int = 0) throws -> ImportedToken {
        ImportedToken(name: name, parameters: .standard, secret: try secret ?? OTPSecret.generate(), watermark: watermark, skew: skew, window: 4)
    }

    @Test func importedStateIsKept() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let outcome = try f.store.importTokens(
            user: "alice", tokens: [try token(watermark: 56_666_666, skew: -3)], scratchCodes: nil, mode: .skip, dryRun: false, now: now
        ) { name in AuditEvent(time: 1_700_000_000, event: "token.imported", user: "alice", detail: "from test: \(name)") }
        #expect(outcome == .imported(tokens: ["ga"], replaced: 0, scratchCodes: 0))
        let t = try #require(try f.store.tokens(user: "alice").first)
        #expect(t.watermark == 56_666_666 && t.skew == -3 && t.window == 4 && t.drift == -3)
        #expect(try f.store.auditEvents(user: "alice").map(\.event) == ["token.imported"])
    }

    @Test func skipReplaceAddAndDryRun() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        _ = try f.enroll("alice", recovery: try RecoveryCodeBatch.generate(count: 2, hasher: .fast, user: "alice"))
        let new = try token()
        #expect(try f.store.importTokens(user: "alice", tokens: [new], scratchCodes: nil, mode: .skip, dryRun: false, now: now) == .skipped(existing: 1))
        #expect(try f.store.importTokens(user: "alice", tokens: [new], scratchCodes: nil, mode: .replace, dryRun: true, now: now)
            == .imported(tokens: ["ga"], replaced: 1, scratchCodes: 0))
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["phone"], "a dry run changes nothing")
        // A name clash under --add fails the whole user: nothing of the import is kept.
        let clash = [try token("x"), try token("phone")]
        #expect(throws: StoreError.self) {
            try f.store.importTokens(user: "alice", tokens: clash, scratchCodes: nil, mode: .add, dryRun: false, now: now)
        }
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["phone"])
        _ = try f.store.importTokens(user: "alice", tokens: [new], scratchCodes: nil, mode: .add, dryRun: false, now: now)
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["phone", "ga"])
        let scratch = try ScratchCodeBatch.hash(["12345678"], user: "alice", hasher: .fast)
        #expect(try f.store.importTokens(user: "alice", tokens: [try token("z")], scratchCodes: scratch, mode: .replace, dryRun: false, now: now)
            == .imported(tokens: ["z"], replaced: 2, scratchCodes: 1))
        #expect(try f.store.tokens(user: "alice").map(\.name) == ["z"])
        #expect(try f.store.recoveryCodesRemaining(user: "alice") == 0, "replace removes the old recovery codes")
        #expect(try f.store.scratchCodesRemaining(user: "alice") == 1)
    }

    @Test func badImportsAreRefused() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let cases: [[ImportedToken]] = [
            [],
            [try token(secret: Array(repeating: 1, count: 9))],
            [try token("a"), try token("a")],
            [try token(skew: 200_000)],
            [try token("")],
        ]
        for tokens in cases {
            #expect(throws: StoreError.self) {
                try f.store.importTokens(user: "bob", tokens: tokens, scratchCodes: nil, mode: .skip, dryRun: false, now: now)
            }
        }
        #expect(throws: StoreError.self) { try ScratchCodeBatch.hash(["1234567"], user: "alice", hasher: .fast) }
        #expect(try f.store.listUsers(now: now).isEmpty)
    }

    @Test func scratchCodesWorkOnceEvenInParallel() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let scratch = try ScratchCodeBatch.hash(["12345678", "87654321"], user: "alice", hasher: .fast)
        _ = try f.store.importTokens(user: "alice", tokens: [try token()], scratchCodes: scratch, mode: .skip, dryRun: false, now: now)
        #expect(try f.store.consumeScratchCode(user: "alice", input: "11111111", now: now) == .noMatch)
        #expect(try f.store.consumeScratchCode(user: "alice", input: "1234 5678", now: now) == .noMatch)
        let accepted = Atomic<Int>(0)
        let store = f.store
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            if case .accepted(let left)? = try? store.consumeScratchCode(user: "alice", input: "12345678", now: 1_700_000_000) {
                #expect(left == 1)
                accepted.add(1, ordering: .relaxed)
            }
        }
        #expect(accepted.load(ordering: .relaxed) == 1)
        #expect(try f.store.consumeScratchCode(user: "alice", input: "12345678", now: now) == .noMatch)

        // Control: the same harness with sixteen different codes accepts all sixteen,
        // so "exactly one" above is the compare-and-set at work, not a harness that
        // let only one through.
        let codes = (0..<16).map { String(20_000_000 + $0) }
        _ = try f.store.importTokens(
            user: "carol", tokens: [try token()], scratchCodes: try ScratchCodeBatch.hash(codes, user: "carol", hasher: .fast), mode: .skip,
            dryRun: false, now: now)
        let all = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            if case .accepted? = try? store.consumeScratchCode(user: "carol", input: codes[i], now: 1_700_000_000) {
                all.add(1, ordering: .relaxed)
            }
        }
        #expect(all.load(ordering: .relaxed) == 16)
        // A limited user's code is not looked at.
        for _ in 0..<12 { _ = try f.store.recordFailure(user: "alice", now: now) }
        guard case .rateLimited = try f.store.consumeScratchCode(user: "alice", input: "87654321", now: now) else {
            Issue.record("a limited user's scratch code was evaluated")
            return
        }
        #expect(try f.store.scratchCodesRemaining(user: "alice") == 1)
        // The last token going takes the scratch codes with it.
        let id = try #require(try f.store.tokens(user: "alice").first?.id)
        _ = try f.store.removeToken(user: "alice", tokenID: id)
        #expect(try f.store.scratchCodesRemaining(user: "alice") == 0)
    }

    @Test func resyncMovesForwardOnly() throws {
        let f = try StoreFixture()
        defer { f.dir.cleanup() }
        let (t, _) = try f.enroll("alice", counter: 100)
        #expect(try f.store.resyncToken(user: "alice", tokenID: t.id, watermark: 100, skew: -5, drift: -5, now: now) == .replayed)
        #expect(try f.store.resyncToken(user: "alice", tokenID: t.id, watermark: 90, skew: -5, drift: -5, now: now) == .replayed)
        #expect(try f.store.tokens(user: "alice").first?.skew == 0)
        #expect(try f.store.resyncToken(user: "alice", tokenID: t.id, watermark: 120, skew: 20, drift: 20, now: now) == .accepted)
        let after = try #require(try f.store.tokens(user: "alice").first)
        #expect(after.watermark == 120 && after.skew == 20)
    }
}
