import GRDB

extension OTPStore {
    /// The generation recorded in the store (0 for a store that predates it).
    public func generation() throws(StoreError) -> UInt64 {
        try read { db in UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM store_generation WHERE id = 1") ?? 0) }
    }

    /// Sets the store's generation to `value`, with `audit` in the same transaction.
    public func setGeneration(_ value: UInt64, audit: AuditEvent? = nil) throws(StoreError) {
        guard value <= UInt64(Int64.max) else { throw StoreError(.invalidInput, "generation \(value) is too large") }
        try write { db in
            try db.execute(
                sql: "INSERT INTO store_generation (id, value) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                arguments: [Int64(value)])
            try Self.insertAudit(db, audit)
        }
    }
}
