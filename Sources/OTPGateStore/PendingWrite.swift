import Dispatch
import GRDB

/// One caller's write waiting in a `GroupCommitter` batch.
///
/// Unchecked `Sendable`: the fields are written by the thread that leads the batch
/// and read by the caller only after `wait()` returns, and the semaphore orders the
/// two. No field is touched by two threads at once.
final class PendingWrite: @unchecked Sendable {
    private var body: ((Database) throws -> Void)?
    var error: (any Error)?
    private(set) var isFinished = false
    private let semaphore = DispatchSemaphore(value: 0)

    init(_ body: @escaping (Database) throws -> Void) {
        self.body = body
    }

    func run(_ db: Database) throws {
        try body?(db)
    }

    /// Drops the body (and whatever it captured) once it has run.
    func release() { body = nil }

    func wait() { semaphore.wait() }

    /// The result is in: wakes the caller.
    func finish() {
        isFinished = true
        semaphore.signal()
    }

    /// For the leader's own write, which is not waiting.
    func markFinished() { isFinished = true }

    /// Wakes the caller without a result: it is to lead the next batch.
    func wake() { semaphore.signal() }
}
