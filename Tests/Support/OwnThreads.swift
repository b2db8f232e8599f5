import Foundation
package import Testing

/// A trait for suites whose tests block (a daemon's reply, a child's exit, an fsync):
/// each test runs on threads of its own instead of Swift's cooperative pool, at most
/// `OwnThreads.width` at a time across the process.
///
/// Why: Swift Testing runs a synchronous test inside a task, so it holds one of the
/// cooperative pool's threads, of which there is one per core, for as long as it runs.
/// On this two-core machine that made `swift test` two lanes wide: every blocking test
/// waited for one of two threads, although most of what they do is wait (for a
/// process, a socket, an fsync). One suite without it that blocks (a PostgreSQL server
/// started, a daemon's reply awaited) holds up every test that has not started yet:
/// before the PostgreSQL, contract and CLI suites had it, the flood chain's first
/// test started 6-9 s late. A task executor preference moves the test's jobs,
/// task-locals and all (so `#expect` still knows its test), to threads of its own.
package struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    /// How many such tests run at once: enough to overlap their waits, few enough that
    /// the daemons they start still answer within the tests' timeouts.
    package static let width = 4

    /// Whether a test waits for one of the `width` lanes. A serialized chain of long
    /// tests (the floods) does not: queued behind every other test for each of its
    /// tests, it would end last of all.
    let queued: Bool
    /// Whether a test takes every lane: for tests that measure timing (a timer's
    /// lateness) and need the rest of the process quiet meanwhile.
    var exclusive = false

    package var isRecursive: Bool { true }

    package func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Each test case of each test function; not the suites around them.
        testCase == nil ? nil : self
    }

    package func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard queued else { return try await Self.onOwnThreads(function) }
        let lanes = exclusive ? OwnThreads.width : 1
        await Lanes.shared.acquire(lanes)
        do {
            try await Self.onOwnThreads(function)
        } catch {
            await Lanes.shared.release(lanes)
            throw error
        }
        await Lanes.shared.release(lanes)
    }
}

extension OwnThreads {
    /// Runs `function` with the preference set. The closure starts on the thread that
    /// called it (a cooperative one) and moves only at a suspension point, so it
    /// yields first: a synchronous test body has none of its own.
    static func onOwnThreads(_ function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) {
            await Task.yield()
            try await function()
        }
    }
}

extension Trait where Self == OwnThreads {
    /// See `OwnThreads`.
    package static var ownThreads: Self { OwnThreads(queued: true) }

    /// For a serialized suite (a chain of tests, such as the floods or one PostgreSQL
    /// server's tests): threads of their own, outside the lanes, started at once, so
    /// that the chain is not queued behind every other test once per test.
    package static var ownThreadsUnqueued: Self { OwnThreads(queued: false) }

    /// For tests that measure timing: every lane at once, so no other such test runs
    /// beside them (the flood chain, outside the lanes, still may).
    package static var ownThreadsExclusive: Self { OwnThreads(queued: true, exclusive: true) }
}

/// A counting semaphore for tasks (waiting suspends, never blocks a thread), first come
/// first served, so a test that wants every lane is not overtaken by single ones.
private actor Lanes {
    static let shared = Lanes(OwnThreads.width)

    private var free: Int
    private var waiting: [(lanes: Int, continuation: CheckedContinuation<Void, Never>)] = []

    init(_ width: Int) { free = width }

    func acquire(_ lanes: Int) async {
        if waiting.isEmpty && free >= lanes {
            free -= lanes
            return
        }
        await withCheckedContinuation { waiting.append((lanes, $0)) }
    }

    func release(_ lanes: Int) {
        free += lanes
        while let first = waiting.first, free >= first.lanes {
            waiting.removeFirst()
            free -= first.lanes
            first.continuation.resume()
        }
    }
}

/// Runs every job on a new thread: a blocking test has only a few jobs (its start and
/// the resumptions after its awaits), and none of them waits for a free thread.
private final class ThreadPerJobExecutor: TaskExecutor {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let thread = Thread { job.runSynchronously(on: executor) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
