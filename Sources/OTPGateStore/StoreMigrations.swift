import Foundation
import GRDB

/// The schema, as named append-only migrations. A shipped migration is never edited:
/// changes go into a new one appended at the end.
enum StoreMigrations {
    /// Refuses a store that has migrations this binary does not know: a newer otpgate
    /// wrote it, and this one would read (and write) a schema it does not understand.
    /// GRDB's `migrate` would skip such migrations silently.
    ///
    /// Checked through a queue of its own, before the store's pool opens: opening a
    /// pool writes (GRDB commits a throwaway CREATE and DROP TABLE to make the WAL
    /// file non-empty), and a refused store must be left byte for byte as it was. A
    /// queue only reads. (After a crash, closing it may checkpoint what the WAL holds
    /// into the main file: committed data, unchanged in content.)
    static func refuseNewer(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)  // as the pool's: another daemon may be recovering the WAL
        config.label = "otpgate.version-check"
        try DatabaseQueue(path: path, configuration: config).read { db in try refuseNewer(db, path: path) }
    }

    static func refuseNewer(_ db: Database, path: String) throws {
        let m = migrator
        guard try m.hasBeenSuperseded(db) else { return }
        let known = Set(m.migrations)
        let unknown = try m.appliedIdentifiers(db).subtracting(known).sorted()
        let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
        throw StoreError(
            .storeNewer,
            "the store \(path) was written by a newer otpgate: it has \(unknown.count == 1 ? "migration" : "migrations") \(names), which this version does not know (it knows up to '\(m.migrations.last ?? "")'); run the newer otpgate, or restore a backup made by this version; the store was left as it was")
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: users, tokens, enrollments, recovery codes, limiter, audit, key check") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 256),
                    created_at INTEGER NOT NULL
                ) STRICT;

                CREATE TABLE tokens (
                    id TEXT PRIMARY KEY CHECK (length(id) = 16),
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
                    kind TEXT NOT NULL CHECK (kind IN ('totp', 'hotp')),
                    algorithm TEXT NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
                    digits INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 8),
                    period INTEGER NOT NULL CHECK (period BETWEEN 1 AND 86400),
                    initial_counter INTEGER NOT NULL DEFAULT 0 CHECK (initial_counter >= 0),
                    secret BLOB NOT NULL CHECK (length(secret) >= 43),
                    watermark INTEGER CHECK (watermark >= 0),
                    drift INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    last_used_at INTEGER,
                    UNIQUE (user_id, name)
                ) STRICT;
                CREATE INDEX tokens_user ON tokens(user_id);

                CREATE TABLE enrollments (
                    id TEXT PRIMARY KEY CHECK (length(id) = 26),
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
                    kind TEXT NOT NULL CHECK (kind IN ('totp', 'hotp')),
                    algorithm TEXT NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
                    digits INTEGER NOT NULL CHECK (digits BETWEEN 6 AND 8),
                    period INTEGER NOT NULL CHECK (period BETWEEN 1 AND 86400),
                    initial_counter INTEGER NOT NULL DEFAULT 0 CHECK (initial_counter >= 0),
                    secret BLOB NOT NULL CHECK (length(secret) >= 43),
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL CHECK (expires_at > created_at)
                ) STRICT;
                CREATE INDEX enrollments_user ON enrollments(user_id);
                CREATE INDEX enrollments_expiry ON enrollments(expires_at);

                CREATE TABLE recovery_codes (
                    id INTEGER PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    kdf TEXT NOT NULL,
                    salt BLOB NOT NULL CHECK (length(salt) = 16),
                    hash BLOB NOT NULL CHECK (length(hash) = 32),
                    created_at INTEGER NOT NULL,
                    used_at INTEGER
                ) STRICT;
                CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

                CREATE TABLE limiter (
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    rhost TEXT NOT NULL,
                    failures INTEGER NOT NULL CHECK (failures >= 0),
                    last_failure_at INTEGER NOT NULL,
                    locked_until INTEGER,
                    PRIMARY KEY (user_id, rhost)
                ) STRICT;

                CREATE TABLE audit_events (
                    id INTEGER PRIMARY KEY,
                    time INTEGER NOT NULL,
                    event TEXT NOT NULL CHECK (length(event) BETWEEN 1 AND 64),
                    user TEXT,
                    peer_uid INTEGER,
                    service TEXT,
                    rhost TEXT,
                    detail TEXT
                ) STRICT;
                CREATE INDEX audit_events_time ON audit_events(time);
                CREATE INDEX audit_events_user_time ON audit_events(user, time);

                CREATE TABLE key_check (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    key_id TEXT NOT NULL CHECK (length(key_id) = 8),
                    value BLOB NOT NULL,
                    updated_at INTEGER NOT NULL
                ) STRICT;
                """)
        }
        m.registerMigration("v2: token skew and window, imported scratch codes") { db in
            // skew: the step offset a TOTP token's window is centred on, set only by an
            // import (google-authenticator's TIME_SKEW) or a resync, never by a login.
            // window: a per-token TOTP window (steps either side), NULL for the daemon's.
            // scratch_codes: google-authenticator's 8-digit one-time codes, hashed like
            // recovery codes, each usable once.
            try db.execute(sql: """
                ALTER TABLE tokens ADD COLUMN skew INTEGER NOT NULL DEFAULT 0 CHECK (skew BETWEEN -100000 AND 100000);
                ALTER TABLE tokens ADD COLUMN window INTEGER CHECK (window BETWEEN 0 AND 10);

                CREATE TABLE scratch_codes (
                    id INTEGER PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    kdf TEXT NOT NULL,
                    salt BLOB NOT NULL CHECK (length(salt) = 16),
                    hash BLOB NOT NULL CHECK (length(hash) = 32),
                    created_at INTEGER NOT NULL,
                    used_at INTEGER
                ) STRICT;
                CREATE INDEX scratch_codes_user ON scratch_codes(user_id);
                """)
        }
        m.registerMigration("v3: grace periods after a successful code from a remote host") { db in
            try db.execute(sql: OTPStore.graceSchema)
        }
        m.registerMigration("v4: recovery-code hashes bound to their user") { db in
            // Each stored hash becomes HMAC(hash, user name); see RecoveryCodeHasher.
            let rows = try Row.fetchAll(db, sql: "SELECT r.id, r.hash, u.name FROM recovery_codes r JOIN users u ON u.id = r.user_id")
            for row in rows {
                let bound = RecoveryCodeHasher.bind(Array(row["hash"] as Data), user: row["name"])
                try db.execute(sql: "UPDATE recovery_codes SET hash = ? WHERE id = ?", arguments: [Data(bound), row["id"] as Int64])
            }
        }
        m.registerMigration("v5: enrolments remember whether they were begun without a code") { db in
            // Pending enrolments from before are treated as begun without a code: one
            // that the user now outranks with a token must be begun again.
            try db.execute(sql: """
                ALTER TABLE enrollments ADD COLUMN codeless INTEGER NOT NULL DEFAULT 0 CHECK (codeless IN (0, 1));
                UPDATE enrollments SET codeless = 1;
                """)
        }
        m.registerMigration("v6: store generation") { db in
            try db.execute(sql: """
                CREATE TABLE store_generation (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    value INTEGER NOT NULL CHECK (value >= 0)
                ) STRICT;
                INSERT INTO store_generation (id, value) VALUES (1, 0);
                """)
        }
        m.registerMigration("v7: timing decoy") { db in
            // Written, never read: a guess at a user with no token makes the same
            // writes here as an enrolled user's failure makes to `limiter`.
            try db.execute(sql: """
                CREATE TABLE timing_decoy (
                    k INTEGER PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    last_failure_at INTEGER NOT NULL,
                    locked_until INTEGER
                ) STRICT;
                """)
        }
        m.registerMigration("v8: the relay a request came through, in the audit log") { db in
            // As the PostgreSQL schema's v004: the name in the relay's TLS certificate
            // (a host name), NULL for a caller on this host.
            try db.execute(sql: """
                ALTER TABLE audit_events ADD COLUMN relay TEXT
                    CHECK (relay IS NULL OR (length(relay) BETWEEN 1 AND 253 AND relay NOT GLOB '*[^A-Za-z0-9._-]*'));
                """)
        }
        return m
    }
}
