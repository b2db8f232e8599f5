import Foundation
import GRDB
import OTPCore
import Logging
import Synchronization

extension OTPStore {
    /// The key id the store's key check was written under.
    public var keyID: KeyID { currentKeyring().current.id }

    /// Re-encrypts every secret under `newKey` in one transaction and moves the key
    /// check to it. Until the transaction commits the old key stays the one in use;
    /// after it, no row is left under the old key id. Returns how many secrets were
    /// re-encrypted.
    @discardableResult
    public func rekey(to newKey: MasterKey, now: Int64) throws(StoreError) -> Int {
        let before = currentKeyring()
        let ring = Keyring(current: newKey, others: [before.current])
        var count = 0
        do {
            try pool.write { db in
                // Tokens and pending enrolments seal their secret the same way: bound
                // to (table, row id, user name, "secret").
                for table in ["tokens", "enrollments"] {
                    let rows = try Row.fetchAll(
                        db, sql: "SELECT r.id, r.secret, u.name FROM \(table) r JOIN users u ON u.id = r.user_id")
                    for row in rows {
                        let id: String = row["id"]
                        let binding = SecretBinding(table: table, row: id, user: row["name"], column: "secret")
                        let plain = try ring.open(Array(row["secret"] as Data), for: binding)
                        defer { plain.wipeSharedStorage() }
                        let sealed = try ring.seal(plain, for: binding)
                        try db.execute(sql: "UPDATE \(table) SET secret = ? WHERE id = ?", arguments: [Data(sealed), id])
                        count += 1
                    }
                }
                let check = try ring.seal(SecretBinding.keyCheckPlaintext, for: SecretBinding.keyCheck)
                try db.execute(
                    sql: "UPDATE key_check SET key_id = ?, value = ?, updated_at = ? WHERE id = 1",
                    arguments: [newKey.id.description, Data(check), now])
                // Swap while still holding the writer: no other write can seal under
                // the old key between this commit and the swap.
                self.keyring.withLock { $0 = ring }
            }
        } catch {
            self.keyring.withLock { $0 = before }
            throw Self.storeError(error, path: path)
        }
        logger.notice(
            "store re-encrypted under a new key",
            metadata: ["key.old": "\(before.current.id)", "key.new": "\(newKey.id)", "store.secrets": "\(count)"])
        return count
    }

    /// How many sealed secrets name each key id (for tests and `admin doctor`).
    public func sealedSecretsByKey() throws(StoreError) -> [String: Int] {
        try read { db in
            var out: [String: Int] = [:]
            for table in ["tokens", "enrollments"] {
                for data in try Data.fetchAll(db, sql: "SELECT secret FROM \(table)") {
                    let id = Keyring.keyID(of: Array(data))?.description ?? "unknown"
                    out[id, default: 0] += 1
                }
            }
            return out
        }
    }
}
