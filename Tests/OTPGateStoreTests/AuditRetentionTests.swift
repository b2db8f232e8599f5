@testable import OTPGateStore
import OTPGateTestSupport
import Testing

/// Issue 13 item 8: the audit log is bounded by age and by number of events.
@Suite(.ownThreads)
struct AuditRetentionTests {
    let now: Int64 = 1_700_000_000

    func fill(_ store: OTPStore, count: Int, from start: Int64, step: Int64) throws {
        for i in 0..<count {
            try store.appendAudit(AuditEvent(time: start + Int64(i) * step, event: "forbidden", peerUID: 1000, detail: "n\(i)"))
        }
    }

    @Test func eventsOlderThanTheAgeLimitAreDeletedAndTheDeletionIsAudited() throws {
        let f = try StoreFixture(now: now)
        defer { f.dir.cleanup() }
        // 30 events a day apart, the last one now.
        try fill(f.store, count: 30, from: now - 29 * 86_400, step: 86_400)
        let deleted = try f.store.pruneAudit(maxAge: 10 * 86_400, maxEvents: nil, now: now)
        #expect(deleted == 19)
        let left = try f.store.auditEvents(limit: 100)
        #expect(left.count == 12)
        #expect(left.dropLast().allSatisfy { $0.time >= now - 10 * 86_400 })
        #expect(left.last?.event == "audit.pruned")
        #expect(left.last?.detail?.contains("19 events deleted") == true)
        // Nothing more to delete: no second audit.pruned.
        #expect(try f.store.pruneAudit(maxAge: 10 * 86_400, maxEvents: nil, now: now) == 0)
        #expect(try f.store.auditEvents(limit: 100).count == 12)
    }

    @Test func onlyTheNewestEventsAreKeptPastTheCountLimit() throws {
        let f = try StoreFixture(now: now)
        defer { f.dir.cleanup() }
        // More than one deletion batch, so the loop over batches is exercised.
        let total = OTPStore.auditPruneBatch + 1_234
        try f.store.write { db in
            for i in 0..<total {
                try OTPStore.insertAudit(db, AuditEvent(time: now, event: "verify.ok", detail: "n\(i)"))
            }
        }
        let deleted = try f.store.pruneAudit(maxAge: nil, maxEvents: 100, now: now)
        #expect(deleted == total - 100)
        let left = try f.store.auditEvents(limit: 1000)
        #expect(left.count == 101)
        #expect(left.first?.detail == "n\(total - 100)")
        #expect(left[99].detail == "n\(total - 1)")
        #expect(left.last?.event == "audit.pruned")
    }

    @Test func noLimitsDeleteNothing() throws {
        let f = try StoreFixture(now: now)
        defer { f.dir.cleanup() }
        try fill(f.store, count: 5, from: 0, step: 1)
        #expect(try f.store.pruneAudit(maxAge: nil, maxEvents: nil, now: now) == 0)
        #expect(try f.store.auditEvents(limit: 100).count == 5)
    }
}
