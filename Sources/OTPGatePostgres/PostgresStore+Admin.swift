public import OTPGateStoreContract
import Logging
internal import PostgresNIO
internal import NIOCore
import OTPCore
import Synchronization

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
            Self.text(event.detail), Self.relay(event),
        ])
        return try Self.decode(try Self.one(rows, "audit_append"), 0)
    }

    /// The events, oldest first. The role that wrote each row (its host) is in the
    /// database (`audit_query`'s `host`), but not yet in the protocol's audit event;
    /// the relay a request came through is (`relay`, schema v004).
    public func auditEvents(user: String?, since: Int64?, limit: Int) throws(StoreError) -> [AuditEvent] {
        let rows = try run("audit_query", [Self.text(user), since.map { .int64($0) } ?? .null, .int32(Int32(clamping: limit))])
        return try rows.map { row throws(StoreError) in
            var e = AuditEvent(
                time: try Self.decode(row, 1), event: try Self.decode(row, 3), user: try Self.decode(row, 4), peerUID: try Self.decode(row, 5),
                service: try Self.decode(row, 6), rhost: try Self.decode(row, 7), detail: try Self.decode(row, 8))
            e.id = try Self.decode(row, 0)
            e.relay = try Self.decode(row, 9)
            return e
        }
    }

    public func pruneAudit(maxAge: Int64?, maxEvents: Int?, now: Int64) throws(StoreError) -> Int {
        // The database keeps at least a day and 1,000 events (a floor no node can go
        // under: the shared log is not one node's to empty); nil is no bound.
        let age: PostgresValue = maxAge.map { .int64(min(max($0, 86_400), 36_500 * 86_400)) } ?? .null
        let events: PostgresValue = maxEvents.map { .int32(Int32(clamping: min(max($0, 1_000), 2_000_000_000))) } ?? .null
        guard maxAge != nil || maxEvents != nil else { return 0 }
        var deleted = 0
        while true {
            let rows: [PostgresResultRow]
            do {
                rows = try run("prune_audit", [age, events])
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

    /// The tier's staged rekey (docs/POSTGRES.md) driven from this node: report the
    /// new key, make it the key check's (refused, before anything changes, while any
    /// other node has not reported it), re-seal every secret compare-and-set, retire
    /// the old key. A crash midway leaves a rekey the next run finishes: a rekey to
    /// `newKey` under way is resumed, and one already finished returns at once.
    public func rekey(to newKey: MasterKey, now: Int64) throws(StoreError) -> Int {
        let state = try tierKeyState()
        let ring = currentKeyring()
        let old: MasterKey
        if state.current == newKey.id.description {
            guard let previous = state.previous else { return try sealedSecretsByKey()[state.current] ?? 0 }
            guard let key = ring.key(named: previous) else {
                throw StoreError(.keyMismatch, "the tier's rekey from key \(previous) to \(state.current) is under way, but this node does not hold key \(previous)")
            }
            old = key
        } else {
            guard state.previous == nil else {
                throw StoreError(
                    .conflict, "a rekey of the tier from key \(state.previous ?? "") to \(state.current) is under way: finish that one first (it needs key \(state.current))")
            }
            guard let key = ring.key(named: state.current) else {
                throw StoreError(.keyMismatch, "the tier uses key \(state.current), which this node does not hold")
            }
            old = key
            _ = try run("node_report_keys", [.text(PostgresStoreStatements.textArray([old.id.description, newKey.id.description]))])
            let check = try Keyring(current: newKey).seal(SecretBinding.keyCheckPlaintext, for: .keyCheck)
            _ = try run("rekey_begin", [.bytea(check), .null])
        }
        let both = Keyring(current: newKey, others: [old])
        keyring.withLock { $0 = both }
        // Other nodes may seal new secrets under the old key until the finish (which
        // then counts them and refuses): re-seal those too and finish again.
        for round in 1...5 {
            try reseal(under: both, from: old)
            do {
                return Int(try Self.decode(try Self.one(try run("rekey_finish", [.null]), "rekey_finish"), 0) as Int32)
            } catch where error.code == .conflict && round < 5 {
                let state = try tierKeyState()
                if state.previous == nil { return try sealedSecretsByKey()[state.current] ?? 0 }  // another run finished it
            }
        }
        throw StoreError(.conflict, "secrets kept arriving under the old key \(old.id): run rekey again")
    }

    private func reseal(under both: Keyring, from old: MasterKey) throws(StoreError) {
        while true {
            let rows = try run("rekey_sealed", [.text(old.id.description), .int32(1000)])
            if rows.isEmpty { return }
            for row in rows {
                let kind: String = try Self.decode(row, 0)
                let id: String = try Self.decode(row, 1)
                let user: String = try Self.decode(row, 2)
                let sealed = Array((try Self.decode(row, 3) as ByteBuffer).readableBytesView)
                let binding: SecretBinding = kind == "token" ? .token(id, user: user) : .enrollment(id, user: user)
                let secret = try both.open(sealed, for: binding)
                defer { secret.wipeSharedStorage() }
                _ = try run("rekey_replace", [.text(kind), .text(id), .text(old.id.description), .bytea(try both.seal(secret, for: binding))])
            }
        }
    }

    /// Runs `body`, which seals with the keyring it is given. When the database refuses
    /// the key it sealed under (OG005: the tier's rekey finished and retired it before
    /// this node settled, TierKeys), this node takes the tier's key if it holds it, and
    /// runs `body` once more; each call is one transaction, so the refused one left nothing.
    func sealing<T>(_ body: (Keyring) throws(StoreError) -> T) throws(StoreError) -> T {
        do {
            return try body(currentKeyring())
        } catch where error.code == .keyMismatch {
            guard try adoptTierKey() else { throw error }
            return try body(currentKeyring())
        }
    }

    /// Seals under the tier's current key from now on, if this node holds it and does
    /// not seal under it yet.
    func adoptTierKey() throws(StoreError) -> Bool {
        let state = try tierKeyState()
        let ring = currentKeyring()
        guard ring.current.id.description != state.current,
            let key = ring.key(named: state.current)
        else { return false }
        keyring.withLock { $0 = Keyring(current: key, others: ring.all) }
        logger.notice("sealing under the tier's new key", metadata: ["key.current": "\(key.id)"])
        return true
    }

    public func tierKeyState() throws(StoreError) -> TierKeyState {
        let row = try Self.one(try run("key_check_read", []), "key_check_read")
        return TierKeyState(current: try Self.decode(row, 0), previous: try Self.decode(row, 2))
    }

    public func hold(_ ring: Keyring, reporting holds: [KeyID]) throws(StoreError) {
        keyring.withLock { $0 = ring }
        _ = try run("node_report_keys", [.text(PostgresStoreStatements.textArray(holds.map(\.description)))])
    }

    public func sealedSecretsByKey() throws(StoreError) -> [String: Int] {
        var out: [String: Int] = [:]
        for row in try run("sealed_by_key", []) {
            out[try Self.decode(row, 0) as String] = Int(try Self.decode(row, 1) as Int64)
        }
        return out
    }

    /// Closes the pool's connections (the daemon is stopping).
    public func close() { pool.shutdown() }

    /// One read through the pool (a new connection checks the write settings), then
    /// whether writes are allowed and why (synchronous_commit,
    /// synchronous_standby_names, pg_is_in_recovery).
    /// Asks the server now: its write settings (refreshed, so a change made without a
    /// reconnect shows), the schema version and the tier's limiter policy, for `health`
    /// and `doctor` (DoctorTier reads the detail's `schema vNNN` and `tier limiter
    /// policy k=v ...` parts).
    public func checkHealth() -> StoreHealth {
        let status: PostgresWriteStatus
        let detail: String
        do {
            status = try pool.refreshWriteStatus()
            let row = try Self.one(try run("health", []), "health")
            let version = (try Self.decode(row, 6) as Int32?).map { Int($0) } ?? 0
            let policy = try Self.one(try run("limiter_policy_read", []), "limiter_policy_read")
            var values: [Int32] = []
            for column in 0..<5 { values.append(try Self.decode(policy, column)) }
            let names = ["free_per_host", "free_per_user", "base_delay", "max_delay", "lockout_failures"]
            detail = status.reason + "; schema v" + String(version).leftPadded(3) + "; tier limiter policy "
                + zip(names, values).map { "\($0)=\($1)" }.joined(separator: " ")
        } catch let error as PostgresStoreError {
            return StoreHealth(.unavailable, detail: error.message)
        } catch let error as StoreError {
            return StoreHealth(.unavailable, detail: error.message)
        } catch {
            return StoreHealth(.unavailable, detail: "\(error)")
        }
        return StoreHealth(status.writesAllowed ? .ok : .writesRefused, detail: detail)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
