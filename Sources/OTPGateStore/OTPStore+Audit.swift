import GRDB

extension OTPStore {
    public static let maxAuditLimit = 10_000

    /// Appends one audit event in its own transaction. Returns its id.
    @discardableResult
    public func appendAudit(_ event: AuditEvent) throws(StoreError) -> Int64 {
        try write { db in try Self.insertAudit(db, event) }
    }

    /// Appends `event` inside the caller's transaction, so that an outcome and its
    /// audit record commit together (and cost one fsync, not two).
    @discardableResult
    static func insertAudit(_ db: Database, _ event: AuditEvent?) throws -> Int64 {
        guard let event else { return 0 }
        if let relay = event.relay, !AuditEvent.isRelayName(relay) {
            throw StoreError(.invalidInput, AuditEvent.relayNameRule)
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO audit_events (time, event, user, peer_uid, service, rhost, detail, relay)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [event.time, event.event, event.user, event.peerUID, event.service, event.rhost, event.detail, event.relay])
        return db.lastInsertedRowID
    }

    /// The newest `limit` events at or after `since` (for `user` if given), oldest first.
    public func auditEvents(user: String? = nil, since: Int64? = nil, limit: Int = 100) throws(StoreError) -> [AuditEvent] {
        guard (1...Self.maxAuditLimit).contains(limit) else {
            throw StoreError(.invalidInput, "limit must be between 1 and \(Self.maxAuditLimit)")
        }
        return try read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let user {
                clauses.append("user = ?")
                arguments += [user]
            }
            if let since {
                clauses.append("time >= ?")
                arguments += [since]
            }
            let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            arguments += [limit]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM (
                      SELECT id, time, event, user, peer_uid, service, rhost, detail, relay FROM audit_events
                      \(whereSQL) ORDER BY id DESC LIMIT ?
                    ) ORDER BY id ASC
                    """, arguments: arguments)
            return rows.map { row in
                var e = AuditEvent(
                    time: row["time"], event: row["event"], user: row["user"], peerUID: row["peer_uid"],
                    service: row["service"], rhost: row["rhost"], detail: row["detail"], relay: row["relay"])
                e.id = row["id"]
                return e
            }
        }
    }
}

extension OTPStore {
    /// Rows deleted per transaction by `pruneAudit`, so retention never holds the
    /// writer (and the logins waiting for it) for long.
    static let auditPruneBatch = 5_000

    /// Audit retention: deletes events older than `maxAge` seconds (before `now`) and
    /// all but the newest `maxEvents`; nil leaves that bound off. Returns how many
    /// were deleted; when any were, the deletion is itself audited (`audit.pruned`).
    /// The file does not shrink (SQLite reuses the freed pages for new events), so a
    /// cap on events is a cap on the audit log's share of the file.
    @discardableResult
    public func pruneAudit(maxAge: Int64?, maxEvents: Int?, now: Int64) throws(StoreError) -> Int {
        var deleted = 0
        while true {
            let n = try write { db -> Int in
                // Everything before `oldest` by time, and ids up to `lastDropped`.
                let oldest = maxAge.map { now - $0 } ?? Int64.min
                var lastDropped: Int64 = 0
                if let maxEvents {
                    lastDropped = try Int64.fetchOne(
                        db, sql: "SELECT id FROM audit_events ORDER BY id DESC LIMIT 1 OFFSET ?", arguments: [maxEvents]) ?? 0
                }
                try db.execute(
                    sql: """
                        DELETE FROM audit_events WHERE id IN
                          (SELECT id FROM audit_events WHERE time < ? OR id <= ? LIMIT ?)
                        """, arguments: [oldest, lastDropped, Self.auditPruneBatch])
                return db.changesCount
            }
            deleted += n
            if n < Self.auditPruneBatch { break }
        }
        if deleted > 0 {
            try appendAudit(AuditEvent(
                time: now, event: "audit.pruned", user: nil, peerUID: nil,
                detail: "\(deleted) events deleted by retention (max age \(maxAge.map { "\($0) s" } ?? "none"), max events \(maxEvents.map(String.init) ?? "none"))"))
        }
        return deleted
    }
}
