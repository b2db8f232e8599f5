@testable import OTPGateServer
import Testing

/// Issue 13 item 8: the per-uid write budget and the coalescing of refusals.
struct FloodBoundTests {
    let t0 = ContinuousClock.now

    @Test func theBudgetAllowsABurstThenTheRate() {
        let budget = UIDBudget(rate: 2, burst: 5)
        let first = (0..<7).map { _ in budget.take(uid: 1000, now: t0) }
        #expect(first.prefix(5).allSatisfy { $0 == nil })
        #expect(first[5] == 1 && first[6] == 1)
        // Another uid has its own bucket.
        #expect(budget.take(uid: 1001, now: t0) == nil)
        // Half a second later, one more (2 per second).
        #expect(budget.take(uid: 1000, now: t0 + .milliseconds(500)) == nil)
        #expect(budget.take(uid: 1000, now: t0 + .milliseconds(500)) != nil)
        // A long pause refills to the burst, not beyond it.
        let later = (0..<6).map { _ in budget.take(uid: 1000, now: t0 + .seconds(3600)) }
        #expect(later.filter { $0 == nil }.count == 5)
    }

    @Test func refusalsAreAuditedOncePerWindowWithTheCount() {
        let audit = RefusalAudit(interval: .seconds(60))
        #expect(audit.record(uid: 1000, time: 100, now: t0) == (true, nil))
        for i in 1...9 { #expect(audit.record(uid: 1000, time: 100 + Int64(i), now: t0 + .seconds(i)).audit == false) }
        // Another uid opens its own window.
        #expect(audit.record(uid: 1001, time: 105, now: t0 + .seconds(5)).audit == true)
        #expect(audit.expired(now: t0 + .seconds(30)).isEmpty)
        // The next refusal after the window is audited again, with the last window's count.
        let next = audit.record(uid: 1000, time: 200, now: t0 + .seconds(61))
        #expect(next.audit)
        #expect(next.ended == RefusalAudit.Summary(uid: 1000, count: 9, from: 101, to: 109))
        // 1001's window had no more refusals: nothing to write for it.
        #expect(audit.expired(now: t0 + .seconds(70)).isEmpty)
        _ = audit.record(uid: 1000, time: 201, now: t0 + .seconds(62))
        #expect(audit.expired(now: t0 + .seconds(62), all: true) == [RefusalAudit.Summary(uid: 1000, count: 1, from: 201, to: 201)])
    }
}
