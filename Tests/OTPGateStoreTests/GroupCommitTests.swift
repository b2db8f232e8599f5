import Dispatch
import Foundation
import GRDB
@testable import OTPGateStore
import OTPGateTestSupport
import Synchronization
import Testing

/// The group committer on its own, on a plain table: results go to the right caller,
/// one write's error rolls back that write only, a failed transaction fails its whole
/// batch, and what a call returned is on disk.
@Suite("Group commit", .ownThreads)
struct GroupCommitTests {
    struct Fixture {
        let dir: TempDir
        let pool: DatabasePool
        let committer: GroupCommitter

        init() throws {
            dir = try TempDir()
            pool = try DatabasePool(path: dir.file("batch.db"))
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: """
                    CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL UNIQUE, note TEXT);
                    -- A value of -1 makes SQLite roll back the whole transaction.
                    CREATE TRIGGER t_abort BEFORE INSERT ON t WHEN new.v = -1
                    BEGIN SELECT RAISE(ROLLBACK, 'whole transaction rolled back'); END;
                    """)
            }
            committer = GroupCommitter(pool: pool)
        }

        func values() throws -> [Int] {
            try pool.read { db in try Int.fetchAll(db, sql: "SELECT v FROM t ORDER BY v") }
        }
    }

    struct Boom: Error, Equatable { let n: Int }

    /// Runs `count` calls at once on their own threads while the first write holds the
    /// writer, so the others queue up and commit together in the next transaction.
    /// One `Thread` per blocking writer: parked on `DispatchQueue.global()` they would
    /// wait for its pool, which grows by about one thread a second (this test alone
    /// took 33 s that way).
    static func inOneBatch<T: Sendable>(
        _ f: Fixture, count: Int, _ body: @escaping @Sendable (Int, Database) throws -> T
    ) throws -> [Result<T, any Error>] {
        let release = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let group = DispatchGroup()
        func onThread(_ work: @escaping @Sendable () -> Void) {
            group.enter()
            Thread {
                work()
                group.leave()
            }.start()
        }
        onThread {
            _ = try? f.committer.write { _ in
                holding.signal()
                release.wait()
            }
        }
        holding.wait()
        for i in 0..<count {
            onThread {
                let r = Result { try f.committer.write { db in try body(i, db) } }
                results.withLock { $0[i] = r }
            }
        }
        while f.committer.waitingCount < count { usleep(1000) }
        release.signal()
        group.wait()
        return results.withLock { r in (0..<count).map { r[$0]! } }
    }

    @Test func resultsGoToTheirOwnCallers() throws {
        let f = try Fixture()
        defer { f.dir.cleanup() }
        let results = Mutex<[Int: Int64]>([:])
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            let rowID = try? f.committer.write { db -> Int64 in
                try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [i])
                return db.lastInsertedRowID
            }
            results.withLock { $0[i] = rowID }
        }
        let byRow = try f.pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT id, v FROM t").map { ($0[0] as Int64, $0[1] as Int) })
        }
        let mine = results.withLock { $0 }
        #expect(mine.count == 200)
        for (value, rowID) in mine { #expect(byRow[rowID] == value) }
        let stats = f.committer.statistics
        #expect(stats.writes == 200)
        #expect(stats.transactions <= 200)
    }

    @Test func oneWritesErrorRollsBackThatWriteOnly() throws {
        let f = try Fixture()
        defer { f.dir.cleanup() }
        let results = try Self.inOneBatch(f, count: 30) { i, db -> Int in
            try db.execute(sql: "INSERT INTO t (v, note) VALUES (?, 'half done')", arguments: [i])
            if i % 3 == 0 { throw Boom(n: i) }  // after its insert: that insert must go
            return i * 10
        }
        for (i, r) in results.enumerated() {
            switch r {
            case .success(let v): #expect(i % 3 != 0 && v == i * 10)
            case .failure(let e): #expect(i % 3 == 0 && (e as? Boom) == Boom(n: i))
            }
        }
        #expect(try f.values() == (0..<30).filter { $0 % 3 != 0 })
        // The 30 shared one transaction: the point of the exercise.
        #expect(f.committer.statistics.largestBatch == 30)
    }

    @Test func constraintViolationsStayWithTheirWrite() throws {
        let f = try Fixture()
        defer { f.dir.cleanup() }
        _ = try f.committer.write { db in try db.execute(sql: "INSERT INTO t (v) VALUES (1000)") }
        let results = try Self.inOneBatch(f, count: 20) { i, db -> Int in
            // Odd callers collide with the row above (UNIQUE v).
            try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [i % 2 == 1 ? 1000 : i])
            return i
        }
        for (i, r) in results.enumerated() {
            if i % 2 == 1 {
                #expect(throws: DatabaseError.self) { try r.get() }
            } else {
                #expect(try r.get() == i)
            }
        }
        #expect(try f.values() == (0..<20).filter { $0 % 2 == 0 } + [1000])
    }

    @Test func laterWritesInABatchSeeEarlierOnes() throws {
        let f = try Fixture()
        defer { f.dir.cleanup() }
        _ = try f.committer.write { db in try db.execute(sql: "INSERT INTO t (v) VALUES (0)") }
        // Each caller bumps the one row by a compare-and-set; in one batch each must
        // see the previous one's change, so exactly one wins per expected value.
        let results = try Self.inOneBatch(f, count: 25) { _, db -> Bool in
            let v = try Int.fetchOne(db, sql: "SELECT v FROM t")!
            try db.execute(sql: "UPDATE t SET v = ? WHERE v = ?", arguments: [v + 1, v])
            return db.changesCount == 1
        }
        #expect(results.allSatisfy { (try? $0.get()) == true })
        #expect(try f.values() == [25])
    }

    @Test func aTransactionRolledBackBySQLiteFailsTheWholeBatch() throws {
        let f = try Fixture()
        defer { f.dir.cleanup() }
        let results = try Self.inOneBatch(f, count: 12) { i, db -> Int in
            try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [i == 5 ? -1 : i])
            return i
        }
        // Writes 0-4 had succeeded inside the transaction that SQLite then rolled
        // back: their callers must not be told they committed.
        #expect(results.allSatisfy { if case .failure = $0 { true } else { false } })
        #expect(try f.values() == [])
        // And the committer carries on afterwards.
        #expect(try f.committer.write { db in try db.execute(sql: "INSERT INTO t (v) VALUES (77)"); return 1 } == 1)
        #expect(try f.values() == [77])
    }

    @Test func whatACallReturnedIsSeenByAnotherConnection() throws {
        let f = try Fixture()
        defer { f.dir.cleanup() }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            _ = try? f.committer.write { db in try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [i]) }
        }
        // A new connection, as after a restart: everything acknowledged is there.
        let queue = try DatabaseQueue(path: f.dir.file("batch.db"))
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") } == 64)
    }

    @Test func acknowledgedConcurrentFailuresSurviveSIGKILL() throws {
        let f = try StoreFixture(policy: LimiterPolicy(lockoutFailures: 1_000_000))
        defer { f.dir.cleanup() }
        let threads = 16
        let child = try harness(["fail-threads", f.dbPath, f.keyPath, "bob", "\(threads)"])
        var acked = [Int](repeating: 0, count: threads)
        var lines = 0
        while let line = child.readLine(), line.hasPrefix("ack ") {
            let parts = line.split(separator: " ")
            acked[Int(parts[1])!] = max(acked[Int(parts[1])!], Int(parts[2])!)
            lines += 1
            if lines == 400 { break }
        }
        for line in child.kill() where line.hasPrefix("ack ") {
            let parts = line.split(separator: " ")
            acked[Int(parts[1])!] = max(acked[Int(parts[1])!], Int(parts[2])!)
        }
        let store = try f.reopen()
        let counts = Dictionary(uniqueKeysWithValues: try store.listUsers(now: 0).map { ($0.user, $0.failures) })
        for t in 0..<threads {
            let stored = counts["bob-\(t)"] ?? 0
            // Every acknowledged failure is there (more may have committed unacknowledged).
            #expect(stored >= acked[t], "thread \(t)")
        }
        // Batches did form: fewer transactions than writes in the child is not visible
        // here, but the parent's reopened store must be intact.
        let check = try store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
    }
}
