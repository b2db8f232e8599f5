public import OTPGateStoreContract
import Logging
internal import PostgresNIO

extension PostgresStore {
    public func listUsers(now: Int64) throws(StoreError) -> [UserSummary] {
        try run("users_list", []).map { row throws(StoreError) in
            let lockedOut: Bool = try Self.decode(row, 5)
            return UserSummary(
                user: try Self.decode(row, 0), tokens: Int(try Self.decode(row, 1) as Int32),
                recoveryRemaining: Int(try Self.decode(row, 2) as Int32), lockedUntil: try Self.decode(row, 4), lockedOut: lockedOut,
                failures: Int(try Self.decode(row, 3) as Int32), lastUsedAt: try Self.decode(row, 6))
        }
    }

    public func resetUser(_ user: String, audit: AuditEvent?) throws(StoreError) -> Bool {
        try Self.decode(try Self.one(try run("user_reset", [.text(user), Self.peer(audit)]), "user_reset"), 0)
    }

    public func unlock(user: String, audit: AuditEvent?) throws(StoreError) -> Bool {
        try Self.decode(try Self.one(try run("user_unlock", [.text(user), Self.peer(audit)]), "user_unlock"), 0)
    }

    public func appendAudit(_ event: AuditEvent) throws(StoreError) -> Int64 {
        let rows = try run("audit_append", [
            .text(event.event), Self.text(event.user), Self.peer(event), Self.text(event.service), Self.text(event.rhost),
            Self.text(event.detail),
        ])
        return try Self.decode(try Self.one(rows, "audit_append"), 0)
    }

    /// The writer's role (the host that wrote each row) is kept in `detail`'s place
    /// only where the row has none; the protocol's audit event has no host field yet.
    public func auditEvents(user: String?, since: Int64?, limit: Int) throws(StoreError) -> [AuditEvent] {
        let rows = try run("audit_query", [Self.text(user), since.map { .int64($0) } ?? .null, .int32(Int32(clamping: limit))])
        return try rows.map { row throws(StoreError) in
            var e = AuditEvent(
                time: try Self.decode(row, 1), event: try Self.decode(row, 3), user: try Self.decode(row, 4), peerUID: try Self.decode(row, 5),
                service: try Self.decode(row, 6), rhost: try Self.decode(row, 7), detail: try Self.decode(row, 8))
            e.id = try Self.decode(row, 0)
            return e
        }
    }

    public func pruneAudit(maxAge: Int64?, maxEvents: Int?, now: Int64) throws(StoreError) -> Int {
        // The database keeps at least a day and 1,000 events; "no bound" is its widest.
        let age = max(maxAge ?? Int64.max / 2, 86_400)
        let events = Int32(clamping: max(maxEvents ?? Int(Int32.max), 1_000))
        var deleted = 0
        while true {
            let rows: [PostgresResultRow]
            do {
                rows = try run("prune_audit", [.int64(age), .int32(events)])
            } catch where error.code == .conflict {
                // A node's role may not delete audit rows: retention of the shared
                // log is an admin job (a timer calling otpgate.prune_audit as an admin).
                logger.info("audit retention of the shared log is left to an admin role (otpgate.prune_audit)")
                return deleted
            }
            let n = Int(try Self.decode(try Self.one(rows, "prune_audit"), 0) as Int32)
            deleted += n
            if n < 50_000 { return deleted }
        }
    }

    /// A tier's key changes in stages that involve every node (docs/POSTGRES.md,
    /// "Rekey across the tier"); one node cannot do it alone.
    public func rekey(to newKey: MasterKey, now: Int64) throws(StoreError) -> Int {
        throw StoreError(
            .conflict, "a tier's key is changed in stages across all nodes (docs/POSTGRES.md, rekey across the tier), not by one node's rekey")
    }

    public func sealedSecretsByKey() throws(StoreError) -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try run("sealed_by_key", []) {
            out[try Self.decode(row, 0) as String] = Int(try Self.decode(row, 1) as Int64)
        }
        return out
    }

    /// What `health` and `doctor` say about the database: whether writes are allowed
    /// and why (synchronous_commit, synchronous_standby_names, pg_is_in_recovery).
    public var writeStatus: PostgresWriteStatus { pool.writeStatus }
}
