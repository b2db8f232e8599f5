import GRDB
import Synchronization

/// Group commit: the writes of concurrent callers share one transaction and so one
/// fsync, while each caller still returns only after its own write is committed.
///
/// A caller queues its write and, if no batch is being committed, becomes the leader:
/// it takes every queued write (its own first), runs them in one IMMEDIATE
/// transaction, each inside its own savepoint, commits once, and wakes the others
/// with their results. Callers that arrive while a batch commits wait; when the batch
/// is done, the first of them leads the next one. So under load a batch forms while
/// the previous one is being fsynced, and with one caller nothing waits at all.
///
/// An error thrown by one write rolls back that write's savepoint only and goes to
/// that caller; the rest of the batch commits. If the transaction itself fails (the
/// commit, or an I/O error that makes SQLite roll everything back), every caller in
/// the batch gets the error and none of their changes is kept. Writes in one batch see
/// each other in queue order, exactly as if each had committed before the next began.
///
/// A write must not start another write from inside its body (it would wait for
/// itself); the store never does.
final class GroupCommitter: Sendable {
    private let pool: DatabasePool
    let maxBatch: Int
    private let queue = Mutex(Queue())
    /// Transactions committed (or attempted) and writes run, for tests and the benchmark.
    private let counters = Mutex(Counters())

    private struct Queue: Sendable {
        var waiting: [PendingWrite] = []
        /// True from the moment a caller becomes leader until the last batch is done
        /// and nobody is waiting; while true, new callers queue and wait.
        var leading = false
    }

    struct Counters: Sendable, Equatable {
        var transactions = 0
        var writes = 0
        var largestBatch = 0
    }

    init(pool: DatabasePool, maxBatch: Int = 256) {
        precondition(maxBatch >= 1)
        self.pool = pool
        self.maxBatch = maxBatch
    }

    var statistics: Counters { counters.withLock { $0 } }

    /// Writes queued behind the batch being committed (for tests).
    var waitingCount: Int { queue.withLock { $0.waiting.count } }

    /// Runs `body` in a write transaction shared with concurrent callers; returns
    /// after that transaction has committed. Blocks the calling thread meanwhile.
    func write<T>(_ body: @escaping (Database) throws -> T) throws -> T {
        // Written by whichever thread leads the batch, read here after `wait`, which
        // orders the two (the semaphore is a full barrier).
        nonisolated(unsafe) var value: T?
        let write = PendingWrite { db in value = try body(db) }
        let leadNow = queue.withLock { q in
            q.waiting.append(write)
            if q.leading { return false }
            q.leading = true
            return true
        }
        if !leadNow {
            write.wait()
            // Woken either with a result, or to lead the next batch (which holds
            // this write first).
            if !write.isFinished { lead() }
        } else {
            lead()
        }
        precondition(write.isFinished, "a queued write was not run")
        if let error = write.error { throw error }
        return value!
    }

    /// Commits one batch, hands the lead to the next waiter (if any), then wakes the
    /// batch's callers. The caller's own write is always in the batch it leads.
    private func lead() {
        let batch = queue.withLock { q in
            let batch = Array(q.waiting.prefix(maxBatch))
            q.waiting.removeFirst(batch.count)
            return batch
        }
        run(batch)
        let next = queue.withLock { q -> PendingWrite? in
            guard let first = q.waiting.first else {
                q.leading = false
                return nil
            }
            return first
        }
        counters.withLock { c in
            c.transactions += 1
            c.writes += batch.count
            c.largestBatch = max(c.largestBatch, batch.count)
        }
        // The leader is batch[0] (see `write`): it reads its own result after return.
        for write in batch.dropFirst() { write.finish() }
        batch[0].markFinished()
        next?.wake()
    }

    private func run(_ batch: [PendingWrite]) {
        do {
            try pool.writeWithoutTransaction { db in
                // The transaction and savepoint statements are compiled once (cached
                // on the writer connection), where GRDB's `inTransaction` and
                // `inSavepoint` compile them afresh for every batch and every write.
                // The same statements in the same order.
                try Self.execute(db, "BEGIN IMMEDIATE TRANSACTION")
                do {
                    for write in batch {
                        try Self.execute(db, "SAVEPOINT batched")
                        do {
                            try write.run(db)
                            try Self.execute(db, "RELEASE SAVEPOINT batched")
                        } catch {
                            write.error = error
                            if db.isInsideTransaction {
                                try Self.execute(db, "ROLLBACK TRANSACTION TO SAVEPOINT batched")
                                try Self.execute(db, "RELEASE SAVEPOINT batched")
                            }
                        }
                        // An I/O error, a full disk or an interrupt can make SQLite
                        // roll back the whole transaction, taking the earlier writes
                        // of this batch with it: fail them all.
                        guard db.isInsideTransaction else {
                            throw write.error ?? DatabaseError(resultCode: .SQLITE_ABORT, message: "transaction rolled back")
                        }
                    }
                    try Self.execute(db, "COMMIT TRANSACTION")
                } catch {
                    if db.isInsideTransaction { try? db.rollback() }
                    throw error
                }
            }
        } catch {
            // Nothing of this batch was committed. A write that failed on its own
            // keeps its own error, which is just as true.
            for write in batch where write.error == nil { write.error = error }
        }
        for write in batch { write.release() }
    }

    private static func execute(_ db: Database, _ sql: String) throws {
        try db.cachedStatement(sql: sql).execute()
    }
}
