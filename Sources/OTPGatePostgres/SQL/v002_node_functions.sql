-- v002_node_functions: what a node of the verifier tier calls. Every operation is one
-- function, called as one statement in autocommit (one round trip, one commit).
-- All are SECURITY DEFINER (they run as otpgate_owner; the caller needs only
-- EXECUTE), with a fixed search_path, and check every argument before touching a
-- row: a bad argument raises SQLSTATE OG001 and changes nothing.
--
-- SQLSTATEs (docs/POSTGRES.md): OG001 invalid input, OG002 not found, OG003
-- conflict, OG004 expired, OG005 key (unknown, retired or missing key check),
-- OG006 refused by an invariant trigger, OG007 setup.
--
-- Locks: a function that changes a user's state first locks the user's row
-- (SELECT ... FOR NO KEY UPDATE), then the token, enrolment or code rows, then the
-- limiter rows, then appends audit rows. One order everywhere, so no two of these
-- functions can deadlock; and the limiter decision for a user is made under that
-- user's lock on every node alike (G3).

-- Internal helpers: EXECUTE for nobody but the owner.

CREATE FUNCTION otpgate.require(p_ok boolean, p_message text) RETURNS void
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF p_ok IS NOT TRUE THEN
        RAISE EXCEPTION USING ERRCODE = 'OG001', MESSAGE = p_message;
    END IF;
END
$$;

CREATE FUNCTION otpgate.check_user(p_user text) RETURNS void
LANGUAGE sql SET search_path = otpgate, pg_temp
RETURN otpgate.require(otpgate.is_label(p_user, 256), 'a user name has 1 to 256 bytes and no control characters');

CREATE FUNCTION otpgate.check_context(p_rhost text, p_service text, p_peer_uid bigint) RETURNS void
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(p_rhost IS NULL OR p_rhost = '' OR is_label(p_rhost, 256),
        'a remote host has at most 256 bytes and no control characters');
    PERFORM require(p_service IS NULL OR is_label(p_service, 256),
        'a service name has 1 to 256 bytes and no control characters');
    PERFORM require(p_peer_uid IS NULL OR p_peer_uid BETWEEN 0 AND 4294967295, 'a peer uid is 0 to 4294967295');
END
$$;

CREATE FUNCTION otpgate.check_token_id(p_token_id text) RETURNS void
LANGUAGE sql SET search_path = otpgate, pg_temp
RETURN otpgate.require(p_token_id ~ '^[a-z2-7]{16}$', 'a token id is 16 characters of a-z and 2-7');

CREATE FUNCTION otpgate.check_enrollment_id(p_id text) RETURNS void
LANGUAGE sql SET search_path = otpgate, pg_temp
RETURN otpgate.require(p_id ~ '^[a-z2-7]{26}$', 'an enrolment id is 26 characters of a-z and 2-7');

CREATE FUNCTION otpgate.check_hashes(p_kdf text, p_salt bytea, p_hashes bytea[], p_max integer) RETURNS void
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(is_label(p_kdf, 64), 'a kdf descriptor has 1 to 64 bytes and no control characters');
    PERFORM require(octet_length(p_salt) = 16, 'a code salt has 16 bytes');
    PERFORM require(cardinality(p_hashes) BETWEEN 1 AND p_max AND array_ndims(p_hashes) = 1,
        format('a batch holds 1 to %s code hashes', p_max));
    PERFORM require(NOT EXISTS (SELECT 1 FROM unnest(p_hashes) h WHERE h IS NULL OR octet_length(h) <> 32),
        'every code hash has 32 bytes');
END
$$;

-- The wait after `failures` consecutive failures when `free` come free: base
-- doubled per further failure, at most max (LimiterPolicy.delay in the daemon).
CREATE FUNCTION otpgate.wait_end(p_now timestamptz, p_failures integer, p_free integer, p_base integer, p_max integer)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE SET search_path = otpgate, pg_temp
RETURN CASE WHEN p_failures < p_free THEN NULL
    ELSE p_now + make_interval(secs => least(p_base::bigint << least(p_failures - p_free, 30), p_max::bigint)) END;

-- Counts one failure on the counter (user, rhost) and sets its wait; returns the new
-- count. The increment is one INSERT ... ON CONFLICT DO UPDATE, atomic under the
-- row lock, never a read-modify-write.
CREATE FUNCTION otpgate.count_failure(p_uid bigint, p_rhost text, p_now timestamptz, p_free integer, p_pol otpgate.limiter_policy)
RETURNS integer
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_failures integer;
BEGIN
    INSERT INTO limiter AS l (user_id, rhost, failures, last_failure_at, locked_until)
    VALUES (p_uid, p_rhost, 1, p_now, wait_end(p_now, 1, p_free, p_pol.base_delay, p_pol.max_delay))
    ON CONFLICT (user_id, rhost) DO UPDATE SET
        failures = l.failures + 1,
        last_failure_at = excluded.last_failure_at,
        locked_until = wait_end(excluded.last_failure_at, l.failures + 1, p_free, p_pol.base_delay, p_pol.max_delay)
    RETURNING l.failures INTO v_failures;
    RETURN v_failures;
END
$$;

-- The stored limiter state of a user (and one remote host): consecutive failures
-- over all hosts and from the host, the end of the longest running wait (NULL if
-- none runs at p_now), and whether the user is locked out.
CREATE FUNCTION otpgate.limit_state(p_uid bigint, p_rhost text, p_now timestamptz,
    OUT failures integer, OUT host_failures integer, OUT locked_until timestamptz, OUT locked_out boolean)
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_until timestamptz;
    v_host_until timestamptz;
BEGIN
    SELECT l.failures, l.locked_until INTO failures, v_until FROM limiter l WHERE l.user_id = p_uid AND l.rhost = '';
    host_failures := 0;
    IF p_rhost IS NOT NULL AND p_rhost <> '' THEN
        SELECT l.failures, l.locked_until INTO host_failures, v_host_until
        FROM limiter l WHERE l.user_id = p_uid AND l.rhost = p_rhost;
    END IF;
    failures := coalesce(failures, 0);
    host_failures := coalesce(host_failures, 0);
    locked_until := greatest(v_until, v_host_until);
    IF locked_until <= p_now THEN
        locked_until := NULL;
    END IF;
    locked_out := failures >= (SELECT p.lockout_failures FROM limiter_policy p);
END
$$;

-- A success ends the user's run of consecutive failures. With p_attempt (the
-- position reserve_attempt gave this attempt on the all-hosts counter, which it
-- counted as a failure up front) the counter drops by that many: failures counted
-- before this attempt and the attempt itself go, attempts reserved after it (still
-- being evaluated elsewhere) stay counted. Without, the counters are cleared.
-- Per-host counters are cleared either way.
CREATE FUNCTION otpgate.clear_failures(p_uid bigint, p_attempt integer) RETURNS void
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF p_attempt IS NULL THEN
        DELETE FROM limiter WHERE user_id = p_uid;
    ELSE
        DELETE FROM limiter WHERE user_id = p_uid AND (rhost <> '' OR failures <= p_attempt);
        UPDATE limiter SET failures = failures - p_attempt, locked_out_at = NULL WHERE user_id = p_uid AND rhost = '';
    END IF;
END
$$;

-- The attempt itself un-counted (a confirmed or outranked enrolment: not a guess
-- that failed, and not a proof of the user either, so earlier failures stay).
CREATE FUNCTION otpgate.uncount_attempt(p_uid bigint) RETURNS void
LANGUAGE sql SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    UPDATE otpgate.limiter SET failures = failures - 1 WHERE user_id = p_uid AND rhost = '' AND failures > 0;
END;

CREATE FUNCTION otpgate.audit_write(p_event text, p_user text, p_peer_uid bigint, p_service text, p_rhost text, p_detail text)
RETURNS bigint
LANGUAGE sql SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    INSERT INTO otpgate.audit_events (event, user_name, peer_uid, service, rhost, detail)
    VALUES (p_event, p_user, p_peer_uid, p_service, p_rhost, p_detail)
    RETURNING id;
END;

-- A newly sealed secret must be under the key of the store's key check (or, during
-- a rekey, the previous one). Takes a share lock on the key check row, so that
-- rekey_finish waits for this transaction and then sees its row.
CREATE FUNCTION otpgate.require_store_key(p_secret bytea, p_what text) RETURNS void
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_key text;
    v_previous text;
    v_sealed text := sealed_key_id(p_secret);
BEGIN
    SELECT k.key_id, k.previous_key_id INTO v_key, v_previous FROM key_check k WHERE k.id = 1 FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG005',
            MESSAGE = 'the store has no key check yet: a node must write it (otpgate.key_check_init) first';
    END IF;
    IF v_sealed IS DISTINCT FROM v_key AND v_sealed IS DISTINCT FROM v_previous THEN
        RAISE EXCEPTION USING ERRCODE = 'OG005',
            MESSAGE = format('%s is sealed under key %s, but the store uses key %s: read the key check again and seal under that key',
                p_what, v_sealed, v_key);
    END IF;
END
$$;

-- The TOTP step or HOTP counter a node may accept for a token: a TOTP step at most
-- the window's reach (10 steps, plus one for the read-to-accept gap) past the store's
-- clock and the token's skew; an HOTP counter not below the token's next one and
-- less than a million past it (look-ahead and resync reach far less). A node that
-- computed a counter far ahead (a bug, a clock gone wrong) would otherwise push the
-- watermark where it never comes back from, and the token would be dead.
CREATE FUNCTION otpgate.check_reachable(p_kind text, p_period integer, p_skew integer, p_initial bigint, p_watermark bigint,
    p_counter bigint, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    IF p_kind = 'totp' THEN
        PERFORM require(p_counter <= epoch(p_now) / p_period + p_skew + 11,
            format('step %s is beyond the store''s clock (step %s, skew %s)', p_counter, epoch(p_now) / p_period, p_skew));
    ELSE
        PERFORM require(p_counter >= p_initial, format('counter %s is below the token''s first counter %s', p_counter, p_initial));
        PERFORM require(p_counter < greatest(p_initial, coalesce(p_watermark + 1, 0)) + 1000000,
            format('counter %s is a million or more past the token''s next counter', p_counter));
    END IF;
END
$$;

-- What the verification read and reserve_attempt return: one row per token (oldest
-- first), the user's state repeated on each; a single row with NULL token columns
-- when there is no token to return.
CREATE TYPE otpgate.user_state AS (
    now_s bigint,                 -- the store's clock (the primary's), Unix seconds
    user_known boolean,
    admitted boolean,             -- reserve_attempt: may the code be evaluated; read_user: NULL
    attempt integer,              -- reserve_attempt: this attempt's position (pass it on); else NULL
    failures integer,             -- consecutive failures over all hosts
    host_failures integer,        -- consecutive failures from p_rhost (0 without one)
    locked_until bigint,          -- end of the running wait, NULL if none
    locked_out boolean,           -- failures reached the lockout: only an admin unlock helps
    recovery_remaining integer,
    scratch_remaining integer,
    grace_granted_at bigint,      -- a code was accepted for a login from p_rhost at this time
    token_id text,
    token_name text,
    kind text,
    algorithm text,
    digits integer,
    period integer,
    initial_counter bigint,
    secret bytea,
    watermark bigint,
    drift integer,
    skew integer,
    totp_window integer,
    created_at bigint,
    last_used_at bigint
);

CREATE FUNCTION otpgate.with_tokens(r otpgate.user_state, p_uid bigint) RETURNS SETOF otpgate.user_state
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM tokens WHERE user_id = p_uid ORDER BY created_at, id LOOP
        r.token_id := t.id;
        r.token_name := t.name;
        r.kind := t.kind;
        r.algorithm := t.algorithm;
        r.digits := t.digits;
        r.period := t.period;
        r.initial_counter := t.initial_counter;
        r.secret := t.secret;
        r.watermark := t.watermark;
        r.drift := t.drift;
        r.skew := t.skew;
        r.totp_window := t.totp_window;
        r.created_at := epoch(t.created_at);
        r.last_used_at := epoch(t.last_used_at);
        RETURN NEXT r;
    END LOOP;
    IF NOT FOUND THEN
        RETURN NEXT r;
    END IF;
END
$$;

CREATE FUNCTION otpgate.base_state(p_uid bigint, p_rhost text, p_now timestamptz) RETURNS otpgate.user_state
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
DECLARE
    r user_state;
    s record;
    v_uid bigint := coalesce(p_uid, -1);  -- the same queries for an unknown user
BEGIN
    s := limit_state(v_uid, p_rhost, p_now);
    r.now_s := epoch(p_now);
    r.user_known := p_uid IS NOT NULL;
    r.failures := s.failures;
    r.host_failures := s.host_failures;
    r.locked_until := epoch(s.locked_until);
    r.locked_out := s.locked_out;
    r.recovery_remaining := (SELECT count(*) FROM recovery_codes WHERE user_id = v_uid AND used_at IS NULL);
    r.scratch_remaining := (SELECT count(*) FROM scratch_codes WHERE user_id = v_uid AND used_at IS NULL);
    IF p_rhost IS NOT NULL AND p_rhost <> '' THEN
        r.grace_granted_at := epoch((SELECT g.granted_at FROM grace g WHERE g.user_id = v_uid AND g.rhost = p_rhost));
    END IF;
    RETURN r;
END
$$;

-- Node functions.

-- The verification read (also status and precheck): the store's clock, the
-- limiter's state, the tokens with their sealed secrets, the recovery and scratch
-- codes left, and the grace grant for p_rhost. Changes nothing. An unknown user
-- gets the same queries (on id -1) and one row with user_known false.
CREATE FUNCTION otpgate.read_user(p_user text, p_rhost text DEFAULT NULL) RETURNS SETOF otpgate.user_state
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_uid bigint;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_context(p_rhost, NULL, NULL);
    SELECT id INTO v_uid FROM users WHERE name = p_user;
    RETURN QUERY SELECT * FROM with_tokens(base_state(v_uid, p_rhost, v_now), coalesce(v_uid, -1));
END
$$;

-- Decides, under the user's row lock, whether one code of p_user (from p_rhost) may
-- be evaluated now, and if so counts the attempt as a failure before anything is
-- evaluated (on the all-hosts counter and on p_rhost's). A success then takes its
-- count back (accept_code, consume_code with p_attempt); a failure leaves it
-- (record_failure with p_attempt writes only the outcome). So the limiter never
-- lets more guesses be evaluated than the policy allows, on any number of nodes,
-- and an attempt whose outcome is never heard (a node crashed, a connection was
-- closed at the deadline) stays counted: it fails closed.
--
-- Refused (admitted false, no token rows) when the user is locked out or a wait
-- runs. Admitted: the token rows, and attempt = the attempt's position on the
-- all-hosts counter. A user with no token (or unknown) is admitted without any
-- count (there is nothing to guess); the same kind of write goes to timing_decoy,
-- so that the time taken does not tell the two apart.
CREATE FUNCTION otpgate.reserve_attempt(p_user text, p_rhost text DEFAULT NULL) RETURNS SETOF otpgate.user_state
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    v_host text := nullif(p_rhost, '');
    v_pol limiter_policy;
    v_k integer;
    v_attempt integer;
    r user_state;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_context(p_rhost, NULL, NULL);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    v_now := clock_timestamp();  -- after the lock: the time this decision is made
    IF v_uid IS NULL OR NOT EXISTS (SELECT 1 FROM tokens WHERE user_id = v_uid) THEN
        v_k := hashtext(p_user) & 1023;
        INSERT INTO timing_decoy AS d (k, failures, last_failure_at) VALUES (v_k, 1, v_now)
        ON CONFLICT (k) DO UPDATE SET failures = (d.failures + 1) % 1000, last_failure_at = excluded.last_failure_at;
        IF v_host IS NOT NULL THEN
            INSERT INTO timing_decoy AS d (k, failures, last_failure_at) VALUES (v_k + 1024, 1, v_now)
            ON CONFLICT (k) DO UPDATE SET failures = (d.failures + 1) % 1000, last_failure_at = excluded.last_failure_at;
        END IF;
        r := base_state(v_uid, p_rhost, v_now);
        r.admitted := true;
        RETURN NEXT r;
        RETURN;
    END IF;
    r := base_state(v_uid, p_rhost, v_now);
    IF r.locked_out OR r.locked_until IS NOT NULL THEN
        r.admitted := false;
        RETURN NEXT r;
        RETURN;
    END IF;
    SELECT * INTO v_pol FROM limiter_policy;
    v_attempt := count_failure(v_uid, '', v_now, v_pol.free_per_user, v_pol);
    IF v_host IS NOT NULL THEN
        PERFORM count_failure(v_uid, v_host, v_now, v_pol.free_per_host, v_pol);
    END IF;
    r := base_state(v_uid, p_rhost, v_now);  -- with this attempt counted
    r.admitted := true;
    r.attempt := v_attempt;
    RETURN QUERY SELECT * FROM with_tokens(r, v_uid);
END
$$;

-- Accepts a code that matched p_counter (TOTP step or HOTP counter) on token
-- p_token_id, as one compare-and-set: the watermark moves to p_counter only if it
-- is below it (UPDATE ... WHERE watermark < p_counter, never a read then a write),
-- so of any number of parallel calls with one code, on any number of nodes, exactly
-- one returns 'accepted'. On success also: drift and last use recorded, failures
-- cleared (clear_failures), verify.ok audited. Returns 'accepted', 'replayed' (the
-- watermark had reached p_counter; nothing changed) or, only without p_attempt,
-- 'limited' (the stored limiter refuses the user; nothing changed).
CREATE FUNCTION otpgate.accept_code(p_user text, p_token_id text, p_counter bigint, p_drift integer, p_attempt integer,
    p_service text, p_peer_uid bigint, p_rhost text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    t record;
    s record;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_token_id(p_token_id);
    PERFORM require(p_counter >= 0, 'the counter is a number of at least 0');
    PERFORM require(p_drift BETWEEN -1000000 AND 1000000, 'the drift is a number from -1000000 to 1000000');
    PERFORM require(p_attempt IS NULL OR p_attempt BETWEEN 1 AND 1000000, 'an attempt is the positive number reserve_attempt returned');
    PERFORM check_context(p_rhost, p_service, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no tokens', p_user);
    END IF;
    v_now := clock_timestamp();
    SELECT kind, name, period, skew, initial_counter, watermark INTO t FROM tokens WHERE id = p_token_id AND user_id = v_uid;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no token %s', p_user, p_token_id);
    END IF;
    PERFORM check_reachable(t.kind, t.period, t.skew, t.initial_counter, t.watermark, p_counter, v_now);
    IF p_attempt IS NULL THEN
        s := limit_state(v_uid, p_rhost, v_now);
        IF s.locked_out OR s.locked_until IS NOT NULL THEN
            RETURN 'limited';
        END IF;
    END IF;
    UPDATE tokens SET watermark = p_counter, drift = p_drift, last_used_at = v_now
    WHERE id = p_token_id AND user_id = v_uid AND (watermark IS NULL OR watermark < p_counter);
    IF NOT FOUND THEN
        RETURN 'replayed';
    END IF;
    PERFORM clear_failures(v_uid, p_attempt);
    PERFORM audit_write('verify.ok', p_user, p_peer_uid, p_service, p_rhost,
        format('%s token %s, drift %s', t.kind, t.name, p_drift));
    RETURN 'accepted';
END
$$;

-- The unused recovery (p_kind 'recovery') or scratch ('scratch') code hashes of a
-- user, for the daemon to run the KDF against: one row per code. Changes nothing;
-- an unknown user has none.
CREATE FUNCTION otpgate.unused_codes(p_user text, p_kind text)
RETURNS TABLE (code_id bigint, kdf text, salt bytea, hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_user(p_user);
    PERFORM require(p_kind IN ('recovery', 'scratch'), 'a code kind is recovery or scratch');
    IF p_kind = 'recovery' THEN
        RETURN QUERY SELECT c.id, c.kdf, c.salt, c.hash FROM recovery_codes c JOIN users u ON u.id = c.user_id
        WHERE u.name = p_user AND c.used_at IS NULL ORDER BY c.id;
    ELSE
        RETURN QUERY SELECT c.id, c.kdf, c.salt, c.hash FROM scratch_codes c JOIN users u ON u.id = c.user_id
        WHERE u.name = p_user AND c.used_at IS NULL ORDER BY c.id;
    END IF;
END
$$;

-- Uses up code p_code_id (from unused_codes, whose hash the daemon matched) once:
-- UPDATE ... WHERE used_at IS NULL, so of parallel uses exactly one gets 'accepted'.
-- On success: failures cleared as accept_code does, verify.ok audited ("recovery
-- code" / "scratch code"). Returns the outcome ('accepted', 'no_match': used
-- already or not the user's, 'limited': only without p_attempt) and the codes of
-- that kind left.
CREATE FUNCTION otpgate.consume_code(p_user text, p_kind text, p_code_id bigint, p_attempt integer,
    p_service text, p_peer_uid bigint, p_rhost text) RETURNS TABLE (outcome text, remaining integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    s record;
BEGIN
    PERFORM check_user(p_user);
    PERFORM require(p_kind IN ('recovery', 'scratch'), 'a code kind is recovery or scratch');
    PERFORM require(p_code_id >= 1, 'a code id is the positive number unused_codes returned');
    PERFORM require(p_attempt IS NULL OR p_attempt BETWEEN 1 AND 1000000, 'an attempt is the positive number reserve_attempt returned');
    PERFORM check_context(p_rhost, p_service, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_match', 0;
        RETURN;
    END IF;
    v_now := clock_timestamp();
    IF p_attempt IS NULL THEN
        s := limit_state(v_uid, p_rhost, v_now);
        IF s.locked_out OR s.locked_until IS NOT NULL THEN
            RETURN QUERY SELECT 'limited', 0;
            RETURN;
        END IF;
    END IF;
    IF p_kind = 'recovery' THEN
        UPDATE recovery_codes SET used_at = v_now WHERE id = p_code_id AND user_id = v_uid AND used_at IS NULL;
    ELSE
        UPDATE scratch_codes SET used_at = v_now WHERE id = p_code_id AND user_id = v_uid AND used_at IS NULL;
    END IF;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_match', 0;
        RETURN;
    END IF;
    PERFORM clear_failures(v_uid, p_attempt);
    PERFORM audit_write('verify.ok', p_user, p_peer_uid, p_service, p_rhost, p_kind || ' code');
    RETURN QUERY SELECT 'accepted',
        CASE WHEN p_kind = 'recovery' THEN (SELECT count(*)::integer FROM recovery_codes WHERE user_id = v_uid AND used_at IS NULL)
        ELSE (SELECT count(*)::integer FROM scratch_codes WHERE user_id = v_uid AND used_at IS NULL) END;
END
$$;

-- Records a failed attempt and its audit row (p_event: verify.invalid,
-- verify.replayed, enroll.confirm_invalid, token.resync_failed). With p_attempt
-- (from reserve_attempt or enrollment_reserve) the failure was counted when the
-- attempt was reserved, and only the outcome is written. Without, it is counted now
-- (INSERT ... ON CONFLICT DO UPDATE SET failures = failures + 1 on the all-hosts
-- and the p_rhost counter), creating the user if unknown, as the SQLite store does.
-- Either way, the first failure that finds the user at the lockout marks it
-- (locked_out_at, a compare-and-set) and audits user.locked_out: exactly once per
-- lockout, whichever node gets there. Returns the state after it.
CREATE FUNCTION otpgate.record_failure(p_user text, p_rhost text, p_attempt integer, p_event text,
    p_service text, p_peer_uid bigint, p_detail text)
RETURNS TABLE (failures integer, locked_until bigint, locked_out boolean, locked_out_now boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    v_host text := nullif(p_rhost, '');
    v_pol limiter_policy;
    v_locked integer;
    s record;
BEGIN
    PERFORM check_user(p_user);
    PERFORM require(p_attempt IS NULL OR p_attempt BETWEEN 1 AND 1000000, 'an attempt is the positive number reserve_attempt returned');
    PERFORM require(p_event IN ('verify.invalid', 'verify.replayed', 'enroll.confirm_invalid', 'token.resync_failed'),
        'a failure event is verify.invalid, verify.replayed, enroll.confirm_invalid or token.resync_failed');
    PERFORM check_context(p_rhost, p_service, p_peer_uid);
    PERFORM require(p_detail IS NULL OR is_label(p_detail, 1024), 'an audit detail has 1 to 1024 bytes and no control characters');
    IF p_attempt IS NULL THEN
        INSERT INTO users (name) VALUES (p_user) ON CONFLICT (name) DO NOTHING;
    END IF;
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    v_now := clock_timestamp();
    SELECT * INTO v_pol FROM limiter_policy;
    IF v_uid IS NOT NULL AND p_attempt IS NULL THEN
        PERFORM count_failure(v_uid, '', v_now, v_pol.free_per_user, v_pol);
        IF v_host IS NOT NULL THEN
            PERFORM count_failure(v_uid, v_host, v_now, v_pol.free_per_host, v_pol);
        END IF;
    END IF;
    UPDATE limiter l SET locked_out_at = v_now
    WHERE l.user_id = v_uid AND l.rhost = '' AND l.failures >= v_pol.lockout_failures AND l.locked_out_at IS NULL
    RETURNING l.failures INTO v_locked;
    PERFORM audit_write(p_event, p_user, p_peer_uid, p_service, p_rhost, p_detail);
    IF v_locked IS NOT NULL THEN
        PERFORM audit_write('user.locked_out', p_user, p_peer_uid, p_service, p_rhost,
            format('%s consecutive failures', v_locked));
    END IF;
    s := limit_state(coalesce(v_uid, -1), p_rhost, v_now);
    RETURN QUERY SELECT s.failures, epoch(s.locked_until), s.locked_out, v_locked IS NOT NULL;
END
$$;

-- A guess at a user with no token: audits verify.not_enrolled, with the same kind
-- of statements as record_failure after a reserved attempt (a compare-and-set that
-- matches nothing, one audit row), so the two cost alike. Counts nothing.
CREATE FUNCTION otpgate.record_not_enrolled(p_user text, p_rhost text, p_service text, p_peer_uid bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_context(p_rhost, p_service, p_peer_uid);
    UPDATE timing_decoy SET locked_until = clock_timestamp() WHERE k = hashtext(p_user) & 1023 AND failures < 0;
    PERFORM audit_write('verify.not_enrolled', p_user, p_peer_uid, p_service, p_rhost, NULL);
END
$$;

-- Moves a token to where a resync found its codes: the watermark forward to
-- p_watermark (compare-and-set, never back), for TOTP the window's centre to
-- p_skew (HOTP: p_skew must be 0), the drift to p_drift. Refused ('limited') while
-- the user is limited; 'replayed' when the watermark would not move forward. On
-- success the failure counts are cleared and token.resynced is audited.
CREATE FUNCTION otpgate.resync_token(p_user text, p_token_id text, p_watermark bigint, p_skew integer, p_drift integer,
    p_peer_uid bigint) RETURNS TABLE (outcome text, locked_until bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    t record;
    s record;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_token_id(p_token_id);
    PERFORM require(p_watermark >= 0, 'the watermark is a number of at least 0');
    PERFORM require(p_skew BETWEEN -100000 AND 100000, 'the skew is a number from -100000 to 100000');
    PERFORM require(p_drift BETWEEN -1000000 AND 1000000, 'the drift is a number from -1000000 to 1000000');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no tokens', p_user);
    END IF;
    v_now := clock_timestamp();
    SELECT kind, name, period, initial_counter, watermark INTO t FROM tokens WHERE id = p_token_id AND user_id = v_uid;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no token %s', p_user, p_token_id);
    END IF;
    PERFORM require(t.kind = 'totp' OR p_skew = 0, 'an HOTP token has no skew');
    PERFORM check_reachable(t.kind, t.period, p_skew, t.initial_counter, t.watermark, p_watermark, v_now);
    s := limit_state(v_uid, NULL, v_now);
    IF s.locked_out OR s.locked_until IS NOT NULL THEN
        RETURN QUERY SELECT 'limited', epoch(s.locked_until);
        RETURN;
    END IF;
    UPDATE tokens SET watermark = p_watermark, skew = CASE WHEN kind = 'totp' THEN p_skew ELSE 0 END,
        drift = p_drift, last_used_at = v_now
    WHERE id = p_token_id AND user_id = v_uid AND (watermark IS NULL OR watermark < p_watermark);
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'replayed', NULL::bigint;
        RETURN;
    END IF;
    PERFORM clear_failures(v_uid, NULL);
    PERFORM audit_write('token.resynced', p_user, p_peer_uid, NULL, NULL,
        format('%s token %s: drift %s', t.kind, t.name, p_drift)
        || CASE WHEN t.kind = 'totp' THEN format(' steps (%s s)', p_drift::bigint * t.period) ELSE ' counters' END);
    RETURN QUERY SELECT 'accepted', NULL::bigint;
END
$$;

-- Starts an enrolment: stores the new secret (sealed by the daemon under the store's
-- key, bound to ('enrollments', p_enrollment_id, p_user, 'secret')) until it is
-- confirmed or expires p_ttl_seconds from now. Creates the user if unknown. Refuses
-- (OG003) a sixth unexpired enrolment of the user and a name one of the user's
-- tokens has. codeless: begun while the user had no token. Audits enroll.begin.
-- Also drops the user's enrolments that expired more than a day ago.
CREATE FUNCTION otpgate.enrollment_begin(p_user text, p_enrollment_id text, p_name text, p_kind text, p_algorithm text,
    p_digits integer, p_period integer, p_initial_counter bigint, p_secret bytea, p_ttl_seconds integer, p_peer_uid bigint)
RETURNS TABLE (codeless boolean, created_at bigint, expires_at bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    v_codeless boolean;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_enrollment_id(p_enrollment_id);
    PERFORM require(is_label(p_name, 64), 'a token name has 1 to 64 bytes and no control characters');
    PERFORM require(p_kind IN ('totp', 'hotp'), 'a token kind is totp or hotp');
    PERFORM require(p_algorithm IN ('SHA1', 'SHA256', 'SHA512'), 'an algorithm is SHA1, SHA256 or SHA512');
    PERFORM require(p_digits BETWEEN 6 AND 8, 'a token has 6 to 8 digits');
    PERFORM require(p_period BETWEEN 1 AND 86400, 'a period is 1 to 86400 seconds');
    PERFORM require(p_initial_counter >= 0, 'the initial counter is a number of at least 0');
    PERFORM require(is_sealed(p_secret), 'the secret is not a sealed secret (version 1, 43 to 1024 bytes)');
    PERFORM require(p_ttl_seconds BETWEEN 1 AND 604800, 'an enrolment expires after 1 to 604800 seconds');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    INSERT INTO users (name) VALUES (p_user) ON CONFLICT (name) DO NOTHING;
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    v_now := clock_timestamp();
    PERFORM require_store_key(p_secret, 'the enrolment secret');
    DELETE FROM enrollments e WHERE e.user_id = v_uid AND e.expires_at <= v_now - interval '1 day';
    IF (SELECT count(*) FROM enrollments e WHERE e.user_id = v_uid AND e.expires_at > v_now) >= 5 THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003',
            MESSAGE = format('user %s already has 5 unconfirmed enrolments; confirm or cancel one first', p_user);
    END IF;
    IF EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = v_uid AND t.name = p_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = format('user %s already has a token named ''%s''', p_user, p_name);
    END IF;
    IF EXISTS (SELECT 1 FROM enrollments e WHERE e.id = p_enrollment_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = format('enrolment id %s is taken; draw another', p_enrollment_id);
    END IF;
    v_codeless := NOT EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = v_uid);
    INSERT INTO enrollments (id, user_id, name, kind, algorithm, digits, period, initial_counter, secret, created_at, expires_at, codeless)
    VALUES (p_enrollment_id, v_uid, p_name, p_kind, p_algorithm, p_digits, p_period, p_initial_counter, p_secret,
        v_now, v_now + make_interval(secs => p_ttl_seconds), v_codeless);
    PERFORM audit_write('enroll.begin', p_user, p_peer_uid, NULL, NULL, format('%s token %s', p_kind, p_name));
    RETURN QUERY SELECT v_codeless, epoch(v_now), epoch(v_now + make_interval(secs => p_ttl_seconds));
END
$$;

-- The first step of confirming an enrolment: reads it and, under the user's row
-- lock, reserves the attempt on the user's all-hosts counter as reserve_attempt
-- does (the code is then evaluated by the daemon). Raises OG002 for no such
-- enrolment of the user, OG004 for an expired one. outranked: begun without a code
-- while the user has a token now (nothing counted; cancel it, audited as
-- enroll.outranked, and tell the user to begin again). The secret is returned only
-- when admitted.
CREATE FUNCTION otpgate.enrollment_reserve(p_user text, p_enrollment_id text)
RETURNS TABLE (now_s bigint, admitted boolean, attempt integer, locked_until bigint, locked_out boolean, outranked boolean,
    name text, kind text, algorithm text, digits integer, period integer, initial_counter bigint, secret bytea,
    created_at bigint, expires_at bigint, codeless boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    v_pol limiter_policy;
    v_attempt integer;
    e record;
    s record;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_enrollment_id(p_enrollment_id);
    SELECT id INTO v_uid FROM users WHERE users.name = p_user FOR NO KEY UPDATE;
    v_now := clock_timestamp();
    SELECT * INTO e FROM enrollments x WHERE x.id = p_enrollment_id AND x.user_id = v_uid;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no enrolment %s', p_user, p_enrollment_id);
    END IF;
    IF e.expires_at <= v_now THEN
        RAISE EXCEPTION USING ERRCODE = 'OG004', MESSAGE = format('enrolment %s of %s has expired; begin again', p_enrollment_id, p_user);
    END IF;
    s := limit_state(v_uid, NULL, v_now);
    IF e.codeless AND EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = v_uid) THEN
        RETURN QUERY SELECT epoch(v_now), false, NULL::integer, epoch(s.locked_until), s.locked_out, true,
            e.name, e.kind, e.algorithm, e.digits, e.period, e.initial_counter, NULL::bytea, epoch(e.created_at), epoch(e.expires_at), e.codeless;
        RETURN;
    END IF;
    IF s.locked_out OR s.locked_until IS NOT NULL THEN
        RETURN QUERY SELECT epoch(v_now), false, NULL::integer, epoch(s.locked_until), s.locked_out, false,
            e.name, e.kind, e.algorithm, e.digits, e.period, e.initial_counter, NULL::bytea, epoch(e.created_at), epoch(e.expires_at), e.codeless;
        RETURN;
    END IF;
    SELECT * INTO v_pol FROM limiter_policy;
    v_attempt := count_failure(v_uid, '', v_now, v_pol.free_per_user, v_pol);
    s := limit_state(v_uid, NULL, v_now);
    RETURN QUERY SELECT epoch(v_now), true, v_attempt, epoch(s.locked_until), s.locked_out, false,
        e.name, e.kind, e.algorithm, e.digits, e.period, e.initial_counter, e.secret, epoch(e.created_at), epoch(e.expires_at), e.codeless;
END
$$;

-- Turns a pending enrolment into token p_token_id (the daemon's fresh id), whose
-- secret the daemon re-sealed for ('tokens', p_token_id, p_user, 'secret'). The
-- confirming code matched p_watermark, which becomes the token's watermark (that
-- code cannot log in again). Recovery hashes (p_recovery_*: all NULL, or all given)
-- are stored only when the user has no unused recovery code. The attempt reserved
-- by enrollment_reserve is un-counted (p_attempt; a confirmation proves the new
-- token, not the user, so earlier failures stay). Returns outcome 'confirmed' with
-- the token, or 'outranked' when the enrolment was begun without a code and the
-- user has a token by now: then the enrolment is deleted and enroll.outranked is
-- audited instead. Audits enroll.confirm ("token NAME[, new recovery codes]").
CREATE FUNCTION otpgate.enrollment_confirm(p_user text, p_enrollment_id text, p_token_id text, p_secret bytea,
    p_watermark bigint, p_drift integer, p_attempt integer, p_recovery_kdf text, p_recovery_salt bytea,
    p_recovery_hashes bytea[], p_peer_uid bigint)
RETURNS TABLE (outcome text, token_id text, token_name text, stored_recovery_codes boolean, created_at bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    v_stored boolean := false;
    e record;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_enrollment_id(p_enrollment_id);
    PERFORM check_token_id(p_token_id);
    PERFORM require(is_sealed(p_secret), 'the secret is not a sealed secret (version 1, 43 to 1024 bytes)');
    PERFORM require(p_watermark >= 0, 'the watermark is a number of at least 0');
    PERFORM require(p_drift BETWEEN -1000000 AND 1000000, 'the drift is a number from -1000000 to 1000000');
    PERFORM require(p_attempt IS NULL OR p_attempt BETWEEN 1 AND 1000000, 'an attempt is the positive number enrollment_reserve returned');
    PERFORM require((p_recovery_kdf IS NULL) = (p_recovery_salt IS NULL) AND (p_recovery_kdf IS NULL) = (p_recovery_hashes IS NULL),
        'recovery codes come as kdf, salt and hashes together, or not at all');
    IF p_recovery_kdf IS NOT NULL THEN
        PERFORM check_hashes(p_recovery_kdf, p_recovery_salt, p_recovery_hashes, 100);
    END IF;
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE users.name = p_user FOR NO KEY UPDATE;
    v_now := clock_timestamp();
    SELECT * INTO e FROM enrollments x WHERE x.id = p_enrollment_id AND x.user_id = v_uid;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no enrolment %s', p_user, p_enrollment_id);
    END IF;
    IF e.expires_at <= v_now THEN
        RAISE EXCEPTION USING ERRCODE = 'OG004', MESSAGE = format('enrolment %s of %s has expired; begin again', p_enrollment_id, p_user);
    END IF;
    IF e.codeless AND EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = v_uid) THEN
        DELETE FROM enrollments x WHERE x.id = p_enrollment_id;
        IF p_attempt IS NOT NULL THEN
            PERFORM uncount_attempt(v_uid);
        END IF;
        PERFORM audit_write('enroll.outranked', p_user, p_peer_uid, NULL, NULL, 'token ' || e.name);
        RETURN QUERY SELECT 'outranked', NULL::text, NULL::text, NULL::boolean, NULL::bigint;
        RETURN;
    END IF;
    PERFORM check_reachable(e.kind, e.period, 0, e.initial_counter, NULL, p_watermark, v_now);
    PERFORM require_store_key(p_secret, 'the token secret');
    IF EXISTS (SELECT 1 FROM tokens t WHERE t.user_id = v_uid AND t.name = e.name) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = format('user %s already has a token named ''%s''', p_user, e.name);
    END IF;
    IF EXISTS (SELECT 1 FROM tokens t WHERE t.id = p_token_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = format('token id %s is taken; draw another', p_token_id);
    END IF;
    INSERT INTO tokens (id, user_id, name, kind, algorithm, digits, period, initial_counter, secret, watermark, drift, created_at, last_used_at)
    VALUES (p_token_id, v_uid, e.name, e.kind, e.algorithm, e.digits, e.period, e.initial_counter, p_secret,
        p_watermark, p_drift, v_now, v_now);
    DELETE FROM enrollments x WHERE x.id = p_enrollment_id;
    IF p_recovery_kdf IS NOT NULL AND NOT EXISTS (SELECT 1 FROM recovery_codes c WHERE c.user_id = v_uid AND c.used_at IS NULL) THEN
        INSERT INTO recovery_codes (user_id, kdf, salt, hash, created_at)
        SELECT v_uid, p_recovery_kdf, p_recovery_salt, h, v_now FROM unnest(p_recovery_hashes) h;
        v_stored := true;
    END IF;
    IF p_attempt IS NOT NULL THEN
        PERFORM uncount_attempt(v_uid);
    END IF;
    PERFORM audit_write('enroll.confirm', p_user, p_peer_uid, NULL, NULL,
        'token ' || e.name || CASE WHEN v_stored THEN ', new recovery codes' ELSE '' END);
    RETURN QUERY SELECT 'confirmed', p_token_id, e.name, v_stored, epoch(v_now);
END
$$;

-- Cancels a pending enrolment of the user; false when there was none. p_event is
-- enroll.cancel (the user's request) or enroll.outranked (the daemon refusing an
-- outranked one), audited when something was removed.
CREATE FUNCTION otpgate.enrollment_cancel(p_user text, p_enrollment_id text, p_event text, p_peer_uid bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_uid bigint;
    v_name text;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_enrollment_id(p_enrollment_id);
    PERFORM require(p_event IN ('enroll.cancel', 'enroll.outranked'), 'a cancel event is enroll.cancel or enroll.outranked');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    DELETE FROM enrollments WHERE id = p_enrollment_id AND user_id = v_uid RETURNING name INTO v_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM audit_write(p_event, p_user, p_peer_uid, NULL, NULL,
        CASE WHEN p_event = 'enroll.outranked' THEN 'token ' || v_name END);
    RETURN true;
END
$$;

-- Deletes every enrolment that expired more than p_grace_seconds ago (kept that
-- long so a late confirmation hears "expired", not "no such enrolment"). Returns
-- how many. Not audited (nothing a user had is lost).
CREATE FUNCTION otpgate.enrollment_purge(p_grace_seconds integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM require(p_grace_seconds BETWEEN 0 AND 2592000, 'the grace is 0 to 2592000 seconds');
    DELETE FROM enrollments WHERE expires_at <= clock_timestamp() - make_interval(secs => p_grace_seconds);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- The user's unexpired enrolments, oldest first, without ids or secrets (status).
CREATE FUNCTION otpgate.pending_enrollments(p_user text)
RETURNS TABLE (name text, kind text, created_at bigint, expires_at bigint, codeless boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_user(p_user);
    RETURN QUERY SELECT e.name, e.kind, epoch(e.created_at), epoch(e.expires_at), e.codeless
    FROM enrollments e JOIN users u ON u.id = e.user_id
    WHERE u.name = p_user AND e.expires_at > clock_timestamp() ORDER BY e.created_at, e.id;
END
$$;

-- Removes one token; removing the last one also removes the recovery and scratch
-- codes. Returns how many tokens the user has left. OG002 for no such token of the
-- user. Audits token.remove ("token NAME").
CREATE FUNCTION otpgate.token_remove(p_user text, p_token_id text, p_peer_uid bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_uid bigint;
    v_name text;
    v_left integer;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_token_id(p_token_id);
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    DELETE FROM tokens WHERE id = p_token_id AND user_id = v_uid RETURNING name INTO v_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no token %s', p_user, p_token_id);
    END IF;
    v_left := (SELECT count(*) FROM tokens WHERE user_id = v_uid);
    IF v_left = 0 THEN
        DELETE FROM recovery_codes WHERE user_id = v_uid;
        DELETE FROM scratch_codes WHERE user_id = v_uid;
    END IF;
    PERFORM audit_write('token.remove', p_user, p_peer_uid, NULL, NULL, 'token ' || v_name);
    RETURN v_left;
END
$$;

-- Replaces all recovery codes of the user (who must have a token: OG002 otherwise)
-- with the given hashes (1 to 100, 32 bytes each, one salt). Returns how many were
-- stored. Audits recovery.regenerate.
CREATE FUNCTION otpgate.recovery_codes_replace(p_user text, p_kdf text, p_salt bytea, p_hashes bytea[], p_peer_uid bigint)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_uid bigint;
    v_now timestamptz;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_hashes(p_kdf, p_salt, p_hashes, 100);
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    IF v_uid IS NULL OR NOT EXISTS (SELECT 1 FROM tokens WHERE user_id = v_uid) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG002', MESSAGE = format('user %s has no tokens, so no recovery codes', p_user);
    END IF;
    v_now := clock_timestamp();
    DELETE FROM recovery_codes WHERE user_id = v_uid;
    INSERT INTO recovery_codes (user_id, kdf, salt, hash, created_at)
    SELECT v_uid, p_kdf, p_salt, h, v_now FROM unnest(p_hashes) h;
    PERFORM audit_write('recovery.regenerate', p_user, p_peer_uid, NULL, NULL, NULL);
    RETURN cardinality(p_hashes);
END
$$;

-- Appends one audit row (events the daemon writes without a state change:
-- verify.limited, forbidden, verify.grace, ...). Its time is the store's clock and
-- its host the caller's session role, whatever the caller is. Returns its id.
CREATE FUNCTION otpgate.audit_append(p_event text, p_user text, p_peer_uid bigint, p_service text, p_rhost text, p_detail text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(octet_length(p_event) <= 64 AND p_event ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$',
        'an audit event is up to 64 bytes of dotted lower-case words (verify.limited)');
    PERFORM require(p_user IS NULL OR is_label(p_user, 256), 'a user name has 1 to 256 bytes and no control characters');
    PERFORM check_context(p_rhost, p_service, p_peer_uid);
    PERFORM require(p_detail IS NULL OR is_label(p_detail, 1024), 'an audit detail has 1 to 1024 bytes and no control characters');
    RETURN audit_write(p_event, p_user, p_peer_uid, p_service, p_rhost, p_detail);
END
$$;

-- The key check: the known value sealed under the store's key, and during a rekey
-- the previous key's. No row before the first node wrote it.
CREATE FUNCTION otpgate.key_check_read()
RETURNS TABLE (key_id text, value bytea, previous_key_id text, previous_value bytea, updated_at bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT k.key_id, k.value, k.previous_key_id, k.previous_value, otpgate.epoch(k.updated_at) FROM otpgate.key_check k;
END;

-- Writes the key check if there is none (the first node to start on an empty
-- store), audited as store.created. Returns the key id now in the store and whether
-- this call wrote it: a node whose key differs must refuse to start.
CREATE FUNCTION otpgate.key_check_init(p_value bytea, p_peer_uid bigint) RETURNS TABLE (key_id text, created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_created boolean;
BEGIN
    PERFORM require(is_sealed(p_value), 'the key check is not a sealed value (version 1, 43 to 1024 bytes)');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    INSERT INTO key_check (id, value, updated_at) VALUES (1, p_value, clock_timestamp()) ON CONFLICT (id) DO NOTHING;
    v_created := FOUND;
    IF v_created THEN
        PERFORM audit_write('store.created', NULL, p_peer_uid, NULL, NULL, 'key check sealed under key ' || sealed_key_id(p_value));
    END IF;
    RETURN QUERY SELECT k.key_id, v_created FROM key_check k WHERE k.id = 1;
END
$$;

-- Records the key ids the calling node holds (its session role is the node's name),
-- so that rekey_begin can refuse while some node lacks the new key.
CREATE FUNCTION otpgate.node_report_keys(p_key_ids text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(cardinality(p_key_ids) BETWEEN 1 AND 16 AND array_ndims(p_key_ids) = 1
        AND NOT EXISTS (SELECT 1 FROM unnest(p_key_ids) k WHERE k IS NULL OR k !~ '^[0-9a-f]{8}$'),
        'key ids are 1 to 16 ids of 8 lower-case hex digits');
    INSERT INTO node_keys (node, key_ids, reported_at) VALUES (session_user, p_key_ids, clock_timestamp())
    ON CONFLICT (node) DO UPDATE SET key_ids = excluded.key_ids, reported_at = excluded.reported_at;
END
$$;

CREATE FUNCTION otpgate.generation_read() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT g.value FROM otpgate.store_generation g WHERE g.id = 1;
END;

-- Raises the store generation to one above the larger of the stored one and
-- p_at_least (what the node's generation file recorded); returns the new value.
-- p_event (store.created or store.rollback_accepted) with p_detail is audited with it.
CREATE FUNCTION otpgate.generation_advance(p_at_least bigint, p_event text, p_detail text, p_peer_uid bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_value bigint;
BEGIN
    PERFORM require(p_at_least BETWEEN 0 AND 9223372036854775806, 'a generation is a number of at least 0');
    PERFORM require(p_event IS NULL OR p_event IN ('store.created', 'store.rollback_accepted'),
        'a generation event is store.created or store.rollback_accepted');
    PERFORM require(p_detail IS NULL OR (p_event IS NOT NULL AND is_label(p_detail, 1024)),
        'an audit detail has 1 to 1024 bytes and no control characters, and goes with an event');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    UPDATE store_generation SET value = greatest(value, p_at_least) + 1 WHERE id = 1 RETURNING value INTO v_value;
    IF p_event IS NOT NULL THEN
        PERFORM audit_write(p_event, NULL, p_peer_uid, NULL, NULL, p_detail);
    END IF;
    RETURN v_value;
END
$$;

-- What a node checks on every new connection before it writes (FLEET.md): whether
-- this server is a standby, and the commit settings of this session. The daemon
-- refuses writes unless synchronous_commit is on (or remote_apply) and either
-- synchronous_standby_names names a standby or the config declares a single node.
CREATE FUNCTION otpgate.health()
RETURNS TABLE (now_s bigint, in_recovery boolean, synchronous_commit text, synchronous_standby_names text,
    session_role text, server_version_num integer, schema_version integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT otpgate.epoch(clock_timestamp()), pg_is_in_recovery(), current_setting('synchronous_commit'),
        current_setting('synchronous_standby_names'), session_user::text, current_setting('server_version_num')::integer,
        (SELECT max(m.version) FROM otpgate.schema_migrations m);
END;

-- The applied migrations: a node whose binary does not know every one refuses to run.
CREATE FUNCTION otpgate.schema_versions() RETURNS TABLE (version integer, name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT m.version, m.name FROM otpgate.schema_migrations m ORDER BY m.version;
END;

CREATE FUNCTION otpgate.limiter_policy_read()
RETURNS TABLE (free_per_host integer, free_per_user integer, base_delay integer, max_delay integer, lockout_failures integer,
    updated_at bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT p.free_per_host, p.free_per_user, p.base_delay, p.max_delay, p.lockout_failures, otpgate.epoch(p.updated_at)
    FROM otpgate.limiter_policy p;
END;

-- How many sealed secrets (tokens and pending enrolments) name each key id.
CREATE FUNCTION otpgate.sealed_by_key() RETURNS TABLE (key_id text, secrets bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT s.key_id, count(*) FROM (
        SELECT t.key_id FROM otpgate.tokens t UNION ALL SELECT e.key_id FROM otpgate.enrollments e
    ) s GROUP BY s.key_id ORDER BY s.key_id;
END;

-- Who may call what. Everything is revoked from PUBLIC first; the internal helpers
-- above are granted to nobody.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA otpgate FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    otpgate.read_user(text, text),
    otpgate.reserve_attempt(text, text),
    otpgate.accept_code(text, text, bigint, integer, integer, text, bigint, text),
    otpgate.unused_codes(text, text),
    otpgate.consume_code(text, text, bigint, integer, text, bigint, text),
    otpgate.record_failure(text, text, integer, text, text, bigint, text),
    otpgate.record_not_enrolled(text, text, text, bigint),
    otpgate.resync_token(text, text, bigint, integer, integer, bigint),
    otpgate.enrollment_begin(text, text, text, text, text, integer, integer, bigint, bytea, integer, bigint),
    otpgate.enrollment_reserve(text, text),
    otpgate.enrollment_confirm(text, text, text, bytea, bigint, integer, integer, text, bytea, bytea[], bigint),
    otpgate.enrollment_cancel(text, text, text, bigint),
    otpgate.enrollment_purge(integer),
    otpgate.pending_enrollments(text),
    otpgate.token_remove(text, text, bigint),
    otpgate.recovery_codes_replace(text, text, bytea, bytea[], bigint),
    otpgate.audit_append(text, text, bigint, text, text, text),
    otpgate.key_check_init(bytea, bigint),
    otpgate.node_report_keys(text[]),
    otpgate.generation_read(),
    otpgate.generation_advance(bigint, text, text, bigint)
TO otpgate_node;
-- Reads both kinds of caller need (an admin tool checks the key and the schema too).
GRANT EXECUTE ON FUNCTION
    otpgate.key_check_read(),
    otpgate.health(),
    otpgate.schema_versions(),
    otpgate.limiter_policy_read(),
    otpgate.sealed_by_key(),
    otpgate.pending_enrollments(text),
    otpgate.read_user(text, text)
TO otpgate_node, otpgate_admin;

INSERT INTO otpgate.schema_migrations (version, name) VALUES (2, 'v002_node_functions');
