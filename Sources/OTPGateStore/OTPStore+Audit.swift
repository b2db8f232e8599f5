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
        try db.cachedStatement(
            sql: """
                INSERT INTO audit_events (time, event, user, peer_uid, service, rhost, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [event.time, event.event, event.user, event.peerUID, event.service, event.rhost, event.detail])
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
                      SELECT id, time, event, user, peer_uid, service, rhost, detail FROM audit_events
                      \(whereSQL) ORDER BY id DESC LIMIT ?
                    ) ORDER BY id ASC
                    """, arguments: arguments)
            return rows.map { row in
                var e = AuditEvent(
                    time: row["time"], event: row["event"], user: row["user"], peerUID: row["peer_uid"],
                    service: row["service"], rhost: row["rhost"], detail: row["detail"])
                e.id = row["id"]
                return e
            }
        }
    }
}
