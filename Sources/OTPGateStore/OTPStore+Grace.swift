import GRDB

extension OTPStore {
    /// The grace table and the triggers that keep it, as shipped in migration v2 (never
    /// edit: a later change is a new migration).
    ///
    /// A row says: `user` typed a good code for a login from `rhost` at `granted_at`.
    /// It is written by the same transaction that records the success (the
    /// `verify.ok` audit event of a verify from uid 0, the PAM path, with a remote
    /// host), and removed by the same transaction that records a failure from that
    /// host (`verify.invalid`, `verify.replayed`, `verify.limited`). Deleting the user
    /// (`admin.reset`) removes it through the foreign key. Driving it from the audit
    /// rows keeps it exact: whatever writes the outcome writes the grace state with it,
    /// in one commit, without another fsync.
    static let graceSchema = """
        CREATE TABLE grace (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            rhost TEXT NOT NULL CHECK (length(rhost) BETWEEN 1 AND 256),
            granted_at INTEGER NOT NULL,
            PRIMARY KEY (user_id, rhost)
        ) STRICT;

        CREATE TRIGGER grace_after_success AFTER INSERT ON audit_events
        WHEN NEW.event = 'verify.ok' AND NEW.peer_uid = 0 AND NEW.user IS NOT NULL
          AND NEW.rhost IS NOT NULL AND NEW.rhost <> ''
        BEGIN
            INSERT INTO grace (user_id, rhost, granted_at)
              SELECT id, NEW.rhost, NEW.time FROM users WHERE name = NEW.user
              ON CONFLICT (user_id, rhost) DO UPDATE SET granted_at = excluded.granted_at;
        END;

        CREATE TRIGGER grace_after_failure AFTER INSERT ON audit_events
        WHEN NEW.event IN ('verify.invalid', 'verify.replayed', 'verify.limited') AND NEW.user IS NOT NULL
          AND NEW.rhost IS NOT NULL
        BEGIN
            DELETE FROM grace WHERE rhost = NEW.rhost AND user_id = (SELECT id FROM users WHERE name = NEW.user);
        END;
        """

    /// What `verify.precheck` needs, from one read snapshot: whether the user has a
    /// token, the limiter's verdict (for `rhost`), and when a code from `rhost` was
    /// last accepted (nil when never, or since cleared).
    public func precheckState(user: String, rhost: String?, now: Int64) throws(StoreError) -> PrecheckState {
        try read { db in
            guard let uid = try Self.userID(db, user) else {
                return PrecheckState(enrolled: false, limit: .open, graceGrantedAt: nil)
            }
            let tokens = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) FROM tokens WHERE user_id = ?"), arguments: [uid]) ?? 0
            var granted: Int64?
            if let rhost, !rhost.isEmpty {
                granted = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT granted_at FROM grace WHERE user_id = ? AND rhost = ?"),
                    arguments: [uid, rhost])
            }
            // The limiter's own view (monotonic waits), loaded from this snapshot.
            let limit = try self.limiter.state(userID: uid, rhost: rhost, now: now) {
                try Self.storedCounters(db, userID: uid, rhost: rhost)
            }
            return PrecheckState(enrolled: tokens > 0, limit: limit, graceGrantedAt: granted)
        }
    }
}
