import Foundation
import GRDB
public import Logging
import OTPCore
import Synchronization

/// The encrypted secret store: one SQLite file (WAL, `synchronous=FULL`) holding users,
/// tokens, pending enrolments, recovery-code hashes, limiter state and the audit log.
///
/// Every mutating operation is committed (and fsynced) before the call returns.
/// Operations from concurrent callers share transactions (group commit, see
/// `GroupCommitter`): each runs in its own savepoint, so it is all-or-nothing on its
/// own, and many commit with one fsync. Safe to share between tasks and threads, and
/// between processes on one file.
public final class OTPStore: Sendable {
    public let path: String
    let pool: DatabasePool
    let committer: GroupCommitter
    let logger: Logger
    public let limiterPolicy: LimiterPolicy
    public let recoveryHasher: RecoveryCodeHasher
    /// The keys in use. After a rekey the previous key stays loaded for the life of
    /// this object, so that a reader that fetched a row just before the rekey
    /// committed can still open it.
    let keyring: Mutex<Keyring>
    /// The limiter's in-process half: reservations and monotonic waits.
    let limiter: AttemptLimiter
    /// Numbers the write bodies in the order they run (the writer is single), so
    /// that limiter updates applied after their commits can be ordered.
    let writeSequence = Atomic<Int64>(0)
    /// A random secret sealed at open, with the ring that sealed it (see `decoyTokens`).
    let decoy: (ring: Keyring, sealed: [UInt8])

    /// Opens (creating if needed) the store at `path` and checks `key` against it.
    ///
    /// - Parameter keySource: where the key came from, named in the error when the key
    ///   is not the one the store was written with.
    /// - Parameter create: whether a store may be made here. Without it, a missing or
    ///   empty file, or one without a key check, is `storeMissing`, and nothing is
    ///   created.
    public init(
        path: String, key: MasterKey, keySource: String, logger: Logger,
        limiterPolicy: LimiterPolicy = .standard, recoveryHasher: RecoveryCodeHasher = .standard,
        monotonic: @escaping @Sendable () -> Int64 = OTPStore.monotonicMilliseconds,
        create: Bool = true, now: Int64
    ) throws(StoreError) {
        self.path = path
        self.logger = logger
        self.limiterPolicy = limiterPolicy
        self.recoveryHasher = recoveryHasher
        self.keyring = Mutex(Keyring(current: key))
        self.limiter = AttemptLimiter(policy: limiterPolicy, monotonic: monotonic)
        if !create {
            var st = stat()
            guard lstat(path, &st) == 0, st.st_size > 0 else {
                throw StoreError(.storeMissing, "the store \(path) is missing or empty")
            }
        }
        try StorePath.prepare(databasePath: path)

        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.label = "otpgate"
        do {
            // Before anything is written: a store from a newer otpgate stays as it is.
            try StoreMigrations.refuseNewer(path: path)
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB turns the writer to synchronous=NORMAL when it enables WAL (after
            // prepareDatabase runs); NORMAL may lose the last commits on power loss,
            // so set FULL here, on the pool's one writer connection.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try StoreMigrations.migrator.migrate(pool)
        } catch {
            throw Self.storeError(error, path: path)
        }
        committer = GroupCommitter(pool: pool)
        let ring = Keyring(current: key)
        do {
            decoy = (ring, try ring.seal(try SecureRandom.bytes(20), for: Self.decoyBinding))
        } catch {
            throw StoreError(.crypto, "could not make the decoy secret")
        }
        try checkKey(key, source: keySource, create: create, now: now)
    }

    /// The key id the store's key check was written under, without needing the key:
    /// lets a caller find the right key among several (see `KeyRotation`).
    public static func keyID(ofStoreAt path: String) throws(StoreError) -> KeyID? {
        do {
            // Not read-only: after a crash, SQLite may have to recover the WAL, which a
            // read-only connection cannot do ("disk I/O error").
            let queue = try DatabaseQueue(path: path)
            return try queue.read { db -> KeyID? in
                guard try db.tableExists("key_check"),
                    let hex = try String.fetchOne(db, sql: "SELECT key_id FROM key_check WHERE id = 1")
                else { return nil }
                return KeyID(hex: hex)
            }
        } catch {
            throw storeError(error, path: path)
        }
    }


    private func checkKey(_ key: MasterKey, source: String, create: Bool, now: Int64) throws(StoreError) {
        let ring = Keyring(current: key)
        try write { db in
            if let row = try KeyCheckRecord.fetchOne(db) {
                guard row.keyID == key.id.description else {
                    throw StoreError(
                        .keyMismatch,
                        "the store \(self.path) was sealed with key \(row.keyID), but \(source) holds key \(key.id); restore the right key file (or its backup) and restart")
                }
                let plain = try ring.open(Array(row.value), for: SecretBinding.keyCheck)
                guard plain == SecretBinding.keyCheckPlaintext else {
                    throw StoreError(.keyMismatch, "the key check in \(self.path) does not match \(source)")
                }
            } else {
                guard create else { throw StoreError(.storeMissing, "the store \(self.path) holds no key check (it is empty)") }
                let sealed = try ring.seal(SecretBinding.keyCheckPlaintext, for: SecretBinding.keyCheck)
                try KeyCheckRecord(keyID: key.id.description, value: Data(sealed), updatedAt: now).insert(db)
            }
        }
    }

    // MARK: - Transactions with one error type

    /// Runs `body` in a savepoint of an IMMEDIATE write transaction, possibly shared
    /// with concurrent callers, and returns once that transaction has committed. Maps
    /// every failure to `StoreError`. `body` must not call `write` itself.
    func write<T>(_ body: @escaping (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try committer.write(body)
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    static func storeError(_ error: any Error, path: String) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? DatabaseError {
            // Only SQLite's own message: never the statement's arguments.
            if e.resultCode == .SQLITE_CONSTRAINT {
                return StoreError(.conflict, "the change conflicts with existing data (\(e.message ?? "constraint failed"))")
            }
            return StoreError(.database, "database \(path): \(e.message ?? "error \(e.resultCode.rawValue)")")
        }
        return StoreError(.database, "database \(path): \(type(of: error))")
    }

    // MARK: - Shared helpers

    static func validateUser(_ name: String) throws(StoreError) {
        guard !name.isEmpty, name.utf8.count <= 256,
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw StoreError(.invalidInput, "a user name has 1 to 256 bytes and no control characters")
        }
    }

    // The statements on the verify path are cached per connection (compiled once)
    // and read columns by position: building SQL through the query interface and
    // decoding rows through Codable cost more CPU than the rest of a verify.

    static func userID(_ db: Database, _ name: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM users WHERE name = ?"), arguments: [name])
    }

    static func ensureUser(_ db: Database, _ name: String, now: Int64) throws -> Int64 {
        if let id = try userID(db, name) { return id }
        try db.cachedStatement(sql: "INSERT INTO users (name, created_at) VALUES (?, ?)").execute(arguments: [name, now])
        return db.lastInsertedRowID
    }

    func currentKeyring() -> Keyring { keyring.withLock { $0 } }

    /// Milliseconds since boot (CLOCK_BOOTTIME: it never steps, and it goes on
    /// counting while the machine sleeps, so a wait does too).
    public static let monotonicMilliseconds: @Sendable () -> Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The next number of `writeSequence`; called inside a write body.
    func nextWriteSequence() -> Int64 {
        writeSequence.add(1, ordering: .relaxed).newValue
    }

    /// How many write transactions this object committed, for how many writes: the
    /// difference is what group commit saved (one fsync per transaction).
    public var writeStatistics: WriteStatistics {
        let s = committer.statistics
        return WriteStatistics(transactions: s.transactions, writes: s.writes, largestBatch: s.largestBatch)
    }
}

extension OTPStore: StoreContract {
    public var location: String { path }

    /// One read of the file: it opens and answers.
    public func checkHealth() -> StoreHealth {
        do {
            _ = try recoveryCodesRemaining(user: "")
            return StoreHealth(.ok)
        } catch {
            return StoreHealth(.unavailable, detail: error.message)
        }
    }
}
