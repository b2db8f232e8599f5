import OTPGateTestSupport
import Testing

/// The done-when of the non-blocking client: a process with a 100 ms timer makes 64
/// concurrent calls, 1 s timeout each, to a daemon that accepts and never answers.
/// Every call ends by its deadline (taken at call entry) and the timer stays on time;
/// the control, the old client's blocking calls on DispatchQueue.global(), must
/// visibly stall, so the probe can tell the difference.
// Exclusive: the probe's timer must not be late because four other tests (and their
// daemons) of this process run beside it on a two-core machine.
@Suite(.ownThreadsExclusive) struct NeverAnsweringDaemonTests {
    @Test func sixtyFourCallsEndByTheirDeadlineAndTheTimerKeepsTime() async throws {
        let r = try await Probe.run(["stall", "64", "1000"])
        let durations = try #require(r["durations_ms"] as? [Int])
        #expect(durations.count == 64)
        #expect(r["outcomes"] as? [String] == ["timeout"], "\(r)")
        #expect(r["accepted"] as? Int == 64, "every call reached the daemon: \(r)")
        // Each call waited for its timeout (not an early failure) and no longer than 1.2 s.
        #expect(durations.allSatisfy { (950...1200).contains($0) }, "call durations (ms): \(durations.sorted())")
        let late = try #require(r["timer_worst_late_ms"] as? Int)
        #expect(late <= 50, "the 100 ms timer ran \(late) ms late")
        #expect((r["timer_ticks"] as? Int ?? 0) >= 9, "the timer ran throughout: \(r)")
    }

    @Test func controlTheOldBlockingCallsStall() async throws {
        // 16 blocking 1 s calls: the global queue runs a few at a time, so later calls
        // start late (and end well past 1.2 s), and the timer waits for a free thread.
        let r = try await Probe.run(["stall", "16", "1000", "blocking"])
        let durations = try #require(r["durations_ms"] as? [Int])
        let late = try #require(r["timer_worst_late_ms"] as? Int)
        #expect((durations.max() ?? 0) > 1200 || late > 50, "the control did not stall: \(r)")
    }

    @Test func cancellingTheCallingTaskEndsTheCallPromptly() async throws {
        let r = try await Probe.run(["cancel"])
        #expect(r["outcome"] as? String == "cancelled", "\(r)")
        let after = try #require(r["after_cancel_ms"] as? Int)
        #expect(after < 250, "the call ended \(after) ms after its task was cancelled (timeout 30 s)")
    }
}
