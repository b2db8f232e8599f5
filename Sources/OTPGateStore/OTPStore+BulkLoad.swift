import Foundation
import GRDB
import OTPCore

extension OTPStore {
    /// Inserts many users with one token each in a single transaction, without
    /// enrolment, recovery codes or audit events. For the benchmark, which needs a
    /// million users in minutes; not part of the store's public API (SPI
    /// `Benchmark`). Fails on the first user that already exists.
    @_spi(Benchmark)
    public func bulkLoad(_ tokens: [BulkToken], now: Int64) throws(StoreError) {
        for t in tokens { try Self.validateUser(t.user) }
        var tokenIDs: [String] = []
        tokenIDs.reserveCapacity(tokens.count)
        for _ in tokens { tokenIDs.append(try StoreIdentifier.random(length: 16)) }
        let ring = currentKeyring()
        do {
            try pool.write { db in
                let insertUser = try db.cachedStatement(sql: "INSERT INTO users (name, created_at) VALUES (?, ?)")
                let insertToken = try db.cachedStatement(
                    sql: """
                        INSERT INTO tokens (id, user_id, name, kind, algorithm, digits, period, initial_counter,
                                            secret, watermark, drift, created_at, last_used_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL)
                        """)
                for (t, tokenID) in zip(tokens, tokenIDs) {
                    try insertUser.execute(arguments: [t.user, now])
                    let uid = db.lastInsertedRowID
                    let sealed = try ring.seal(t.secret, for: SecretBinding.token(tokenID, user: t.user))
                    let p = t.parameters
                    try insertToken.execute(arguments: [
                        tokenID, uid, t.name, p.kind.rawValue, p.algorithm.rawValue, p.digits, p.period,
                        Int64(t.initialCounter), Data(sealed), t.watermark.map { Int64($0) }, now,
                    ])
                }
            }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }

    /// Moves every committed page from the WAL into the database file and empties
    /// the WAL (after a bulk load, so that the next open starts from a small WAL).
    @_spi(Benchmark)
    public func checkpoint() throws(StoreError) {
        do {
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch {
            throw Self.storeError(error, path: path)
        }
    }
}
