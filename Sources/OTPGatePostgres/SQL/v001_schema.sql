-- v001_schema: the otpgate schema for PostgreSQL 15: tables, invariant triggers,
-- storage settings. Shipped migrations are never edited; a change is a new file.
--
-- Applied by the migration runner (docs/POSTGRES.md, "Migrations") inside one
-- transaction, as otpgate_owner, after bootstrap_roles.sql made the roles. Times
-- are timestamptz in the tables and bigint Unix seconds at the function interface.
-- The daemon seals secrets (AES-256-GCM, docs/SECURITY.md) and hashes recovery
-- codes before they reach the database: no plaintext secret or code is ever stored
-- or passed here.

DO $$
BEGIN
    IF current_setting('server_version_num')::integer < 150000 THEN
        RAISE EXCEPTION USING ERRCODE = 'OG007',
            MESSAGE = 'otpgate needs PostgreSQL 15 or later (this is ' || current_setting('server_version') || ')';
    END IF;
    IF current_user <> 'otpgate_owner' THEN
        RAISE EXCEPTION USING ERRCODE = 'OG007',
            MESSAGE = 'apply the otpgate migrations as otpgate_owner, not ' || current_user
                || ' (SET ROLE otpgate_owner, or log in as it)';
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = 'otpgate_owner') THEN
        RAISE EXCEPTION USING ERRCODE = 'OG007',
            MESSAGE = 'otpgate_owner must not be a superuser: the functions run with its rights (ALTER ROLE otpgate_owner NOSUPERUSER)';
    END IF;
    IF (SELECT count(*) FROM pg_roles WHERE rolname IN ('otpgate_node', 'otpgate_admin') AND NOT rolcanlogin) <> 2 THEN
        RAISE EXCEPTION USING ERRCODE = 'OG007',
            MESSAGE = 'the group roles otpgate_node and otpgate_admin must exist and be NOLOGIN: run bootstrap_roles.sql as a superuser first';
    END IF;
END
$$;

CREATE SCHEMA otpgate;
REVOKE ALL ON SCHEMA otpgate FROM PUBLIC;
GRANT USAGE ON SCHEMA otpgate TO otpgate_node, otpgate_admin;
-- Functions are executable by PUBLIC unless revoked; no otpgate function ever is.
ALTER DEFAULT PRIVILEGES FOR ROLE otpgate_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- One row per applied migration, written by the migration itself (its last
-- statement), so applying a file twice fails on the primary key and changes nothing.
CREATE TABLE otpgate.schema_migrations (
    version integer PRIMARY KEY CHECK (version BETWEEN 1 AND 999),
    name text NOT NULL UNIQUE CHECK (name ~ '^v[0-9]{3}_[a-z0-9_]{1,60}$' AND substr(name, 2, 3)::integer = version),
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by text NOT NULL DEFAULT session_user
);

-- Value checks shared by the CHECK constraints and the functions' argument checks.

-- 1..max bytes of UTF-8 and no control characters (what the SQLite store allows).
CREATE FUNCTION otpgate.is_label(p text, p_max integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p IS NOT NULL AND octet_length(p) BETWEEN 1 AND p_max AND p !~ '[\x01-\x1f\x7f]';

-- A sealed secret as the daemon's Keyring writes it: version 1, key id (4 bytes),
-- nonce (12), ciphertext (at least 10 bytes: otpgate keeps no secret under 80 bits),
-- tag (16).
CREATE FUNCTION otpgate.is_sealed(p bytea) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p IS NOT NULL AND octet_length(p) BETWEEN 43 AND 1024 AND get_byte(p, 0) = 1;

-- The key id a sealed secret names, as the daemon prints it (8 lower-case hex digits).
CREATE FUNCTION otpgate.sealed_key_id(p bytea) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN encode(substring(p FROM 2 FOR 4), 'hex');

CREATE FUNCTION otpgate.epoch(p timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN floor(extract(epoch FROM p))::bigint;

CREATE TABLE otpgate.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (otpgate.is_label(name, 256)),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The limiter policy of the whole tier (G3: one limiter). Kept here, not passed by
-- each node, so that nodes with differing configs cannot count one user's failures
-- against different caps. Changed only by otpgate.set_limiter_policy (audited).
CREATE TABLE otpgate.limiter_policy (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    free_per_host integer NOT NULL CHECK (free_per_host BETWEEN 0 AND 1000),
    free_per_user integer NOT NULL CHECK (free_per_user BETWEEN 0 AND 1000),
    base_delay integer NOT NULL CHECK (base_delay BETWEEN 1 AND 3600),
    max_delay integer NOT NULL CHECK (max_delay BETWEEN 1 AND 86400),
    lockout_failures integer NOT NULL CHECK (lockout_failures BETWEEN 1 AND 100),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (base_delay <= max_delay)
);
INSERT INTO otpgate.limiter_policy (free_per_host, free_per_user, base_delay, max_delay, lockout_failures)
VALUES (3, 10, 2, 900, 100);

CREATE TABLE otpgate.tokens (
    id text PRIMARY KEY CHECK (id ~ '^[a-z2-7]{16}$'),
    user_id bigint NOT NULL REFERENCES otpgate.users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (otpgate.is_label(name, 64)),
    kind text NOT NULL CHECK (kind IN ('totp', 'hotp')),
    algorithm text NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    digits integer NOT NULL CHECK (digits BETWEEN 6 AND 8),
    period integer NOT NULL CHECK (period BETWEEN 1 AND 86400),
    initial_counter bigint NOT NULL DEFAULT 0 CHECK (initial_counter >= 0),
    -- Sealed by the daemon, bound to ('tokens', id, user name, 'secret').
    secret bytea NOT NULL CHECK (otpgate.is_sealed(secret)),
    key_id text GENERATED ALWAYS AS (otpgate.sealed_key_id(secret)) STORED,
    -- The last accepted TOTP step or HOTP counter; NULL until a code was accepted.
    -- Moves forward only (trigger tokens_guard).
    watermark bigint CHECK (watermark >= 0),
    drift integer NOT NULL DEFAULT 0 CHECK (drift BETWEEN -1000000 AND 1000000),
    -- TOTP: steps the window is centred on (import or resync only); 0 for HOTP.
    skew integer NOT NULL DEFAULT 0 CHECK (skew BETWEEN -100000 AND 100000),
    -- TOTP: the token's own window in steps either side; NULL means the daemon's.
    totp_window integer CHECK (totp_window BETWEEN 0 AND 10),
    created_at timestamptz NOT NULL,
    last_used_at timestamptz,
    UNIQUE (user_id, name),
    CHECK (kind = 'totp' OR (skew = 0 AND totp_window IS NULL))
);
CREATE INDEX tokens_key_id ON otpgate.tokens (key_id);

CREATE TABLE otpgate.enrollments (
    id text PRIMARY KEY CHECK (id ~ '^[a-z2-7]{26}$'),
    user_id bigint NOT NULL REFERENCES otpgate.users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (otpgate.is_label(name, 64)),
    kind text NOT NULL CHECK (kind IN ('totp', 'hotp')),
    algorithm text NOT NULL CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    digits integer NOT NULL CHECK (digits BETWEEN 6 AND 8),
    period integer NOT NULL CHECK (period BETWEEN 1 AND 86400),
    initial_counter bigint NOT NULL DEFAULT 0 CHECK (initial_counter >= 0),
    -- Sealed by the daemon, bound to ('enrollments', id, user name, 'secret').
    secret bytea NOT NULL CHECK (otpgate.is_sealed(secret)),
    key_id text GENERATED ALWAYS AS (otpgate.sealed_key_id(secret)) STORED,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- Begun while the user had no token (so without a current code): confirming
    -- fails once the user has one.
    codeless boolean NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX enrollments_user ON otpgate.enrollments (user_id);
CREATE INDEX enrollments_expiry ON otpgate.enrollments (expires_at);
CREATE INDEX enrollments_key_id ON otpgate.enrollments (key_id);

-- Recovery codes, and scratch codes imported from google-authenticator: salted slow
-- hashes (the daemon runs the KDF; kdf names it and its parameters), each usable once.
CREATE TABLE otpgate.recovery_codes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES otpgate.users (id) ON DELETE CASCADE,
    kdf text NOT NULL CHECK (otpgate.is_label(kdf, 64)),
    salt bytea NOT NULL CHECK (octet_length(salt) = 16),
    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX recovery_codes_user ON otpgate.recovery_codes (user_id);

CREATE TABLE otpgate.scratch_codes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES otpgate.users (id) ON DELETE CASCADE,
    kdf text NOT NULL CHECK (otpgate.is_label(kdf, 64)),
    salt bytea NOT NULL CHECK (octet_length(salt) = 16),
    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX scratch_codes_user ON otpgate.scratch_codes (user_id);

-- Failure counters: rhost '' counts a user's failures from all hosts (backoff, and
-- the lockout at lockout_failures), any other rhost those from one remote host.
CREATE TABLE otpgate.limiter (
    user_id bigint NOT NULL REFERENCES otpgate.users (id) ON DELETE CASCADE,
    rhost text NOT NULL CHECK (rhost = '' OR otpgate.is_label(rhost, 256)),
    failures integer NOT NULL CHECK (failures >= 0),
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz,
    -- Set once, by the failure that completed the lockout (its audit row is written
    -- with it); cleared with the row by a success, an unlock or a reset.
    locked_out_at timestamptz,
    PRIMARY KEY (user_id, rhost)
);

-- Written by reserve_attempt for a user with no token, never read: a guess at such
-- a user makes the same kind of write as an enrolled user's counted attempt, so the
-- time taken does not tell the two apart. k spreads users over 2048 rows, so such
-- guesses do not queue on one row lock.
CREATE TABLE otpgate.timing_decoy (
    k integer PRIMARY KEY CHECK (k BETWEEN 0 AND 2047),
    failures integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz
);

-- The audit log. occurred_at and host are set by a trigger from the store's clock
-- and session_user (the node's own database role), whatever the INSERT says, so a
-- node cannot write under another's name. Rows are never updated; they are deleted
-- only by otpgate.prune_audit (trigger audit_events_guard).
CREATE TABLE otpgate.audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    host text NOT NULL DEFAULT session_user,
    event text NOT NULL CHECK (octet_length(event) <= 64 AND event ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$'),
    user_name text CHECK (user_name IS NULL OR otpgate.is_label(user_name, 256)),
    peer_uid bigint CHECK (peer_uid BETWEEN 0 AND 4294967295),
    service text CHECK (service IS NULL OR otpgate.is_label(service, 256)),
    rhost text CHECK (rhost IS NULL OR rhost = '' OR otpgate.is_label(rhost, 256)),
    detail text CHECK (detail IS NULL OR otpgate.is_label(detail, 1024))
);
CREATE INDEX audit_events_time ON otpgate.audit_events (occurred_at);
CREATE INDEX audit_events_user ON otpgate.audit_events (user_name, id);

-- A known value sealed under the tier's master key, so that a node with the wrong
-- key refuses to start. During a rekey (rekey_begin .. rekey_finish) the previous
-- key's value stays beside it, and secrets sealed under either key are accepted.
CREATE TABLE otpgate.key_check (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    value bytea NOT NULL CHECK (otpgate.is_sealed(value)),
    key_id text GENERATED ALWAYS AS (otpgate.sealed_key_id(value)) STORED,
    previous_value bytea CHECK (previous_value IS NULL OR otpgate.is_sealed(previous_value)),
    previous_key_id text GENERATED ALWAYS AS (otpgate.sealed_key_id(previous_value)) STORED,
    updated_at timestamptz NOT NULL
);

-- The key ids each node says it holds (node_report_keys), so that a rekey cannot
-- begin while a node of the tier lacks the new key.
CREATE TABLE otpgate.node_keys (
    node text PRIMARY KEY,
    key_ids text[] NOT NULL,
    reported_at timestamptz NOT NULL
);

-- The store's generation (see StoreGeneration in the daemon): only ever raised.
CREATE TABLE otpgate.store_generation (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    value bigint NOT NULL CHECK (value >= 0)
);
INSERT INTO otpgate.store_generation (value) VALUES (0);

-- Grace periods: user typed a good code for a login from rhost at granted_at.
-- Kept by triggers on audit_events, as in the SQLite store: a verify.ok from peer
-- uid 0 (the PAM path) with a remote host grants; a failure from that host revokes.
CREATE TABLE otpgate.grace (
    user_id bigint NOT NULL REFERENCES otpgate.users (id) ON DELETE CASCADE,
    rhost text NOT NULL CHECK (otpgate.is_label(rhost, 256)),
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, rhost)
);

-- Invariant triggers. They hold for every role, the owner included (only dropping
-- the trigger, an owner's DDL, gets past them).

CREATE FUNCTION otpgate.tokens_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF OLD.watermark IS NOT NULL AND (NEW.watermark IS NULL OR NEW.watermark < OLD.watermark) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG006',
            MESSAGE = format('the watermark of token %s never moves back (from %s to %s)', OLD.id, OLD.watermark,
                coalesce(NEW.watermark::text, 'null'));
    END IF;
    IF (NEW.id, NEW.user_id, NEW.kind, NEW.algorithm, NEW.digits, NEW.period, NEW.initial_counter, NEW.created_at)
        IS DISTINCT FROM (OLD.id, OLD.user_id, OLD.kind, OLD.algorithm, OLD.digits, OLD.period, OLD.initial_counter, OLD.created_at)
    THEN
        RAISE EXCEPTION USING ERRCODE = 'OG006',
            MESSAGE = format('token %s: its owner and parameters never change (re-enrol instead)', OLD.id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tokens_guard BEFORE UPDATE ON otpgate.tokens
FOR EACH ROW EXECUTE FUNCTION otpgate.tokens_guard();

CREATE FUNCTION otpgate.hashed_code_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF OLD.used_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'OG006',
            MESSAGE = format('%s row %s is used up: it can be neither used again nor made unused', TG_TABLE_NAME, OLD.id);
    END IF;
    IF NEW.used_at IS NULL OR (NEW.id, NEW.user_id, NEW.kdf, NEW.salt, NEW.hash, NEW.created_at)
        IS DISTINCT FROM (OLD.id, OLD.user_id, OLD.kdf, OLD.salt, OLD.hash, OLD.created_at)
    THEN
        RAISE EXCEPTION USING ERRCODE = 'OG006',
            MESSAGE = format('%s row %s: the only change allowed is marking it used', TG_TABLE_NAME, OLD.id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER recovery_codes_guard BEFORE UPDATE ON otpgate.recovery_codes
FOR EACH ROW EXECUTE FUNCTION otpgate.hashed_code_guard();
CREATE TRIGGER scratch_codes_guard BEFORE UPDATE ON otpgate.scratch_codes
FOR EACH ROW EXECUTE FUNCTION otpgate.hashed_code_guard();

CREATE FUNCTION otpgate.generation_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF NEW.value < OLD.value THEN
        RAISE EXCEPTION USING ERRCODE = 'OG006',
            MESSAGE = format('the store generation is only ever raised (from %s to %s)', OLD.value, NEW.value);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER store_generation_guard BEFORE UPDATE ON otpgate.store_generation
FOR EACH ROW EXECUTE FUNCTION otpgate.generation_guard();

CREATE FUNCTION otpgate.audit_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    NEW.occurred_at := clock_timestamp();
    NEW.host := session_user;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_stamp BEFORE INSERT ON otpgate.audit_events
FOR EACH ROW EXECUTE FUNCTION otpgate.audit_stamp();

-- No UPDATE ever; DELETE only from inside otpgate.prune_audit (the outermost frame of
-- the call stack must be that function's own DELETE); no TRUNCATE. The owner could
-- still drop the trigger (DDL): its credentials are kept like root's.
CREATE FUNCTION otpgate.audit_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_stack text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        GET DIAGNOSTICS v_stack = PG_CONTEXT;
        -- Under this function's search_path an otpgate function is named unqualified;
        -- one of the same name elsewhere would be printed with its schema. Anchored at
        -- the end: the retention function must be the outermost frame, so a statement
        -- that merely quotes this line (in a DO block, say) does not pass.
        IF v_stack ~ '\nPL/pgSQL function prune_audit\(bigint,integer\) line [0-9]+ at SQL statement$' THEN
            RETURN NULL;
        END IF;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'OG006',
        MESSAGE = format('audit rows are never changed (%s refused; retention is otpgate.prune_audit)', TG_OP);
END
$$;
CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE OR TRUNCATE ON otpgate.audit_events
FOR EACH STATEMENT EXECUTE FUNCTION otpgate.audit_guard();

CREATE FUNCTION otpgate.grace_keep() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF NEW.user_name IS NULL OR NEW.rhost IS NULL OR NEW.rhost = '' THEN
        RETURN NULL;
    END IF;
    IF NEW.event = 'verify.ok' AND NEW.peer_uid = 0 THEN
        INSERT INTO grace (user_id, rhost, granted_at)
        SELECT id, NEW.rhost, NEW.occurred_at FROM users WHERE name = NEW.user_name
        ON CONFLICT (user_id, rhost) DO UPDATE SET granted_at = excluded.granted_at;
    ELSIF NEW.event IN ('verify.invalid', 'verify.replayed', 'verify.limited') THEN
        DELETE FROM grace WHERE rhost = NEW.rhost AND user_id = (SELECT id FROM users WHERE name = NEW.user_name);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_events_grace AFTER INSERT ON otpgate.audit_events
FOR EACH ROW WHEN (NEW.event IN ('verify.ok', 'verify.invalid', 'verify.replayed', 'verify.limited'))
EXECUTE FUNCTION otpgate.grace_keep();

-- Storage. The limiter, token and decoy rows are small and updated on every login:
-- room on each page lets the updates stay HOT (no index writes), and autovacuum and
-- analyze run after a fixed number of changes rather than a fraction of a table that
-- starts empty. Plans cached while a table was empty (or never analyzed) scanned it
-- sequentially until the next ANALYZE; these thresholds bring that ANALYZE early.
ALTER TABLE otpgate.limiter SET (fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 200);
ALTER TABLE otpgate.tokens SET (fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200);
ALTER TABLE otpgate.timing_decoy SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 200);
ALTER TABLE otpgate.users SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200);
ALTER TABLE otpgate.grace SET (fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 200);
ALTER TABLE otpgate.recovery_codes SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200);
ALTER TABLE otpgate.enrollments SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 200);
-- The audit log only grows: analyze it as it grows, vacuum it (for the visibility
-- map, so index-only scans stay cheap) after inserts.
ALTER TABLE otpgate.audit_events SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_insert_threshold = 10000);

-- Nodes and admins get no table privileges: every read and write is a function.
REVOKE ALL ON ALL TABLES IN SCHEMA otpgate FROM PUBLIC, otpgate_node, otpgate_admin;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA otpgate FROM PUBLIC, otpgate_node, otpgate_admin;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA otpgate FROM PUBLIC;

INSERT INTO otpgate.schema_migrations (version, name) VALUES (1, 'v001_schema');
