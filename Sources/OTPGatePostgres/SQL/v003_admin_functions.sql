-- v003_admin_functions: what otpgate_admin may call (reset, unlock, list, audit
-- query, import, limiter policy, audit retention, rekey). Same rules as the node
-- functions (v002): SECURITY DEFINER, fixed search_path, every argument checked
-- first (OG001), the user's row locked before the user's other rows.

-- Removes every token, enrolment, recovery and scratch code, limiter row and grace
-- grant of the user (the users row, with ON DELETE CASCADE). The audit log is kept.
-- False for an unknown user. Audits admin.reset.
CREATE FUNCTION otpgate.user_reset(p_user text, p_peer_uid bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_uid bigint;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM users WHERE id = v_uid;
    PERFORM audit_write('admin.reset', p_user, p_peer_uid, NULL, NULL, NULL);
    RETURN true;
END
$$;

-- Clears every failure count, wait and lockout of the user. False for an unknown
-- user. Audits admin.unlock.
CREATE FUNCTION otpgate.user_unlock(p_user text, p_peer_uid bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_uid bigint;
BEGIN
    PERFORM check_user(p_user);
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM limiter WHERE user_id = v_uid;
    PERFORM audit_write('admin.unlock', p_user, p_peer_uid, NULL, NULL, NULL);
    RETURN true;
END
$$;

-- One row per user the store knows, by name.
CREATE FUNCTION otpgate.users_list()
RETURNS TABLE (user_name text, tokens integer, recovery_remaining integer, failures integer, locked_until bigint,
    locked_out boolean, last_used_at bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp
BEGIN ATOMIC
    SELECT u.name,
        (SELECT count(*)::integer FROM otpgate.tokens t WHERE t.user_id = u.id),
        (SELECT count(*)::integer FROM otpgate.recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL),
        coalesce((SELECT l.failures FROM otpgate.limiter l WHERE l.user_id = u.id AND l.rhost = ''), 0),
        (SELECT otpgate.epoch(max(l.locked_until)) FROM otpgate.limiter l WHERE l.user_id = u.id AND l.locked_until > clock_timestamp()),
        coalesce((SELECT l.failures FROM otpgate.limiter l WHERE l.user_id = u.id AND l.rhost = ''), 0)
            >= (SELECT p.lockout_failures FROM otpgate.limiter_policy p),
        (SELECT otpgate.epoch(max(t.last_used_at)) FROM otpgate.tokens t WHERE t.user_id = u.id)
    FROM otpgate.users u ORDER BY u.name;
END;

-- The newest p_limit (1 to 10000) events at or after p_since (Unix seconds, if
-- given) of p_user (if given), oldest first. host is the database role that wrote
-- each row.
CREATE FUNCTION otpgate.audit_query(p_user text, p_since bigint, p_limit integer)
RETURNS TABLE (id bigint, occurred_at bigint, host text, event text, user_name text, peer_uid bigint, service text,
    rhost text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(p_user IS NULL OR is_label(p_user, 256), 'a user name has 1 to 256 bytes and no control characters');
    PERFORM require(p_since IS NULL OR p_since BETWEEN 0 AND 253402300799, 'since is a Unix time from 0 to year 9999');
    PERFORM require(p_limit BETWEEN 1 AND 10000, 'limit must be between 1 and 10000');
    RETURN QUERY SELECT * FROM (
        SELECT a.id, epoch(a.occurred_at), a.host, a.event, a.user_name, a.peer_uid, a.service, a.rhost, a.detail
        FROM audit_events a
        WHERE (p_user IS NULL OR a.user_name = p_user) AND (p_since IS NULL OR a.occurred_at >= to_timestamp(p_since))
        ORDER BY a.id DESC LIMIT p_limit
    ) newest ORDER BY 1;
END
$$;

-- Stores the tokens (and scratch codes) another tool kept for a user, in one
-- transaction. p_tokens is a jsonb array (pass text with $n::jsonb) of 1 to 16
-- objects with exactly these members:
--   id (16 chars a-z2-7), name, kind, algorithm, digits, period, initial_counter,
--   secret (base64 of the sealed secret, bound to ('tokens', id, user, 'secret')),
--   watermark (number or null), skew (number; 0 for hotp), window (number 0-10 or
--   null; null for hotp), detail (the audit detail, text or null).
-- p_mode: skip (a user with tokens is left alone), replace (their tokens, recovery
-- and scratch codes and enrolments go first), add (kept; a name clash is OG003).
-- p_dry_run: the same checks, nothing written. Audits token.imported per token.
-- Returns outcome 'imported' or 'skipped', the tokens the user had, how many were
-- replaced, the imported names and the scratch codes stored.
CREATE FUNCTION otpgate.import_tokens(p_user text, p_mode text, p_tokens jsonb, p_scratch_kdf text, p_scratch_salt bytea,
    p_scratch_hashes bytea[], p_dry_run boolean, p_peer_uid bigint)
RETURNS TABLE (outcome text, existing integer, replaced integer, imported text[], scratch_codes integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_now timestamptz;
    v_uid bigint;
    v_existing integer := 0;
    v_names text[] := '{}';
    v_secret bytea;
    v_n integer := 0;
    t jsonb;
    v_where text;
BEGIN
    PERFORM check_user(p_user);
    PERFORM require(p_mode IN ('skip', 'replace', 'add'), 'an import mode is skip, replace or add');
    PERFORM require(jsonb_typeof(p_tokens) = 'array' AND jsonb_array_length(p_tokens) BETWEEN 1 AND 16,
        'the tokens are a JSON array of 1 to 16 objects');
    PERFORM require((p_scratch_kdf IS NULL) = (p_scratch_salt IS NULL) AND (p_scratch_kdf IS NULL) = (p_scratch_hashes IS NULL),
        'scratch codes come as kdf, salt and hashes together, or not at all');
    IF p_scratch_kdf IS NOT NULL THEN
        PERFORM check_hashes(p_scratch_kdf, p_scratch_salt, p_scratch_hashes, 20);
    END IF;
    PERFORM require(p_dry_run IS NOT NULL, 'dry_run is true or false');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    FOR t IN SELECT * FROM jsonb_array_elements(p_tokens) LOOP
        v_n := v_n + 1;
        v_where := format('imported token %s: ', v_n);
        PERFORM require(jsonb_typeof(t) = 'object', v_where || 'not an object');
        PERFORM require((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(t) k)
            = ARRAY['algorithm', 'detail', 'digits', 'id', 'initial_counter', 'kind', 'name', 'period', 'secret', 'skew', 'watermark', 'window'],
            v_where || 'needs exactly id, name, kind, algorithm, digits, period, initial_counter, secret, watermark, skew, window, detail');
        PERFORM require(jsonb_typeof(t->'id') = 'string' AND (t->>'id') ~ '^[a-z2-7]{16}$', v_where || 'an id is 16 characters of a-z and 2-7');
        PERFORM require(jsonb_typeof(t->'name') = 'string' AND is_label(t->>'name', 64), v_where || 'a name has 1 to 64 bytes and no control characters');
        PERFORM require(NOT (t->>'name') = ANY (v_names), v_where || 'two imported tokens have the same name');
        PERFORM require(jsonb_typeof(t->'kind') = 'string' AND (t->>'kind') IN ('totp', 'hotp'), v_where || 'kind is totp or hotp');
        PERFORM require(jsonb_typeof(t->'algorithm') = 'string' AND (t->>'algorithm') IN ('SHA1', 'SHA256', 'SHA512'),
            v_where || 'algorithm is SHA1, SHA256 or SHA512');
        PERFORM require(jsonb_typeof(t->'digits') = 'number' AND (t->>'digits') IN ('6', '7', '8'), v_where || 'digits is 6, 7 or 8');
        PERFORM require(jsonb_typeof(t->'period') = 'number' AND (t->>'period') ~ '^[0-9]{1,5}$'
            AND (t->>'period')::integer BETWEEN 1 AND 86400, v_where || 'period is 1 to 86400');
        PERFORM require(jsonb_typeof(t->'initial_counter') = 'number' AND (t->>'initial_counter') ~ '^[0-9]{1,18}$',
            v_where || 'initial_counter is a whole number of at least 0');
        PERFORM require(jsonb_typeof(t->'watermark') = 'null'
            OR (jsonb_typeof(t->'watermark') = 'number' AND (t->>'watermark') ~ '^[0-9]{1,18}$'),
            v_where || 'watermark is null or a whole number of at least 0');
        PERFORM require(jsonb_typeof(t->'skew') = 'number' AND (t->>'skew') ~ '^-?[0-9]{1,6}$'
            AND (t->>'skew')::integer BETWEEN -100000 AND 100000 AND ((t->>'kind') = 'totp' OR (t->>'skew')::integer = 0),
            v_where || 'skew is -100000 to 100000, and 0 for hotp');
        PERFORM require(jsonb_typeof(t->'window') = 'null' OR (jsonb_typeof(t->'window') = 'number' AND (t->>'kind') = 'totp'
            AND (t->>'window') IN ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10')), v_where || 'window is null, or 0 to 10 for totp');
        PERFORM require(jsonb_typeof(t->'detail') = 'null' OR (jsonb_typeof(t->'detail') = 'string' AND is_label(t->>'detail', 1024)),
            v_where || 'detail is null or 1 to 1024 bytes without control characters');
        PERFORM require(jsonb_typeof(t->'secret') = 'string' AND (t->>'secret') ~ '^[A-Za-z0-9+/]+={0,2}$'
            AND octet_length(t->>'secret') % 4 = 0, v_where || 'secret is base64 of the sealed secret');
        v_secret := decode(t->>'secret', 'base64');
        PERFORM require(is_sealed(v_secret), v_where || 'the secret is not a sealed secret (version 1, 43 to 1024 bytes)');
        v_names := v_names || (t->>'name');
    END LOOP;

    IF p_dry_run THEN
        SELECT id INTO v_uid FROM users WHERE name = p_user;
    ELSE
        INSERT INTO users (name) VALUES (p_user) ON CONFLICT (name) DO NOTHING;
        SELECT id INTO v_uid FROM users WHERE name = p_user FOR NO KEY UPDATE;
    END IF;
    v_now := clock_timestamp();
    v_existing := (SELECT count(*) FROM tokens x WHERE x.user_id = v_uid);
    IF v_existing > 0 AND p_mode = 'skip' THEN
        -- A user made by this call has tokens, so is not skipped: nothing to undo.
        RETURN QUERY SELECT 'skipped', v_existing, 0, '{}'::text[], 0;
        RETURN;
    END IF;
    IF p_mode = 'add' AND EXISTS (SELECT 1 FROM tokens x WHERE x.user_id = v_uid AND x.name = ANY (v_names)) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = format('user %s already has a token named ''%s''', p_user,
            (SELECT x.name FROM tokens x WHERE x.user_id = v_uid AND x.name = ANY (v_names) ORDER BY x.name LIMIT 1));
    END IF;
    IF EXISTS (SELECT 1 FROM tokens x, jsonb_array_elements(p_tokens) j WHERE x.id = j->>'id') THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = 'an imported token id is taken; draw new ids';
    END IF;
    IF p_dry_run THEN
        RETURN QUERY SELECT 'imported', v_existing, CASE WHEN p_mode = 'replace' THEN v_existing ELSE 0 END, v_names,
            coalesce(cardinality(p_scratch_hashes), 0);
        RETURN;
    END IF;
    IF p_mode = 'replace' THEN
        DELETE FROM tokens WHERE user_id = v_uid;
        DELETE FROM recovery_codes WHERE user_id = v_uid;
        DELETE FROM scratch_codes WHERE user_id = v_uid;
        DELETE FROM enrollments WHERE user_id = v_uid;
    END IF;
    FOR t IN SELECT * FROM jsonb_array_elements(p_tokens) LOOP
        v_secret := decode(t->>'secret', 'base64');
        PERFORM require_store_key(v_secret, 'the secret of imported token ' || (t->>'name'));
        INSERT INTO tokens (id, user_id, name, kind, algorithm, digits, period, initial_counter, secret, watermark, drift,
            skew, totp_window, created_at, last_used_at)
        VALUES (t->>'id', v_uid, t->>'name', t->>'kind', t->>'algorithm', (t->>'digits')::integer, (t->>'period')::integer,
            (t->>'initial_counter')::bigint, v_secret, (t->>'watermark')::bigint, (t->>'skew')::integer,
            (t->>'skew')::integer, (t->>'window')::integer, v_now, NULL);
        PERFORM audit_write('token.imported', p_user, p_peer_uid, NULL, NULL, t->>'detail');
    END LOOP;
    IF p_scratch_kdf IS NOT NULL THEN
        INSERT INTO scratch_codes (user_id, kdf, salt, hash, created_at)
        SELECT v_uid, p_scratch_kdf, p_scratch_salt, h, v_now FROM unnest(p_scratch_hashes) h;
    END IF;
    RETURN QUERY SELECT 'imported', v_existing, CASE WHEN p_mode = 'replace' THEN v_existing ELSE 0 END, v_names,
        coalesce(cardinality(p_scratch_hashes), 0);
END
$$;

-- Sets the tier's limiter policy (ranges as in otpgated.toml's [limiter]). Counters
-- already stored keep their counts; new waits follow the new policy. Audited.
CREATE FUNCTION otpgate.set_limiter_policy(p_free_per_host integer, p_free_per_user integer, p_base_delay integer,
    p_max_delay integer, p_lockout_failures integer, p_peer_uid bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(p_free_per_host BETWEEN 0 AND 1000, 'free_per_host is 0 to 1000');
    PERFORM require(p_free_per_user BETWEEN 0 AND 1000, 'free_per_user is 0 to 1000');
    PERFORM require(p_base_delay BETWEEN 1 AND 3600, 'base_delay is 1 to 3600 seconds');
    PERFORM require(p_max_delay BETWEEN 1 AND 86400, 'max_delay is 1 to 86400 seconds');
    PERFORM require(p_base_delay <= p_max_delay, 'base_delay must not exceed max_delay');
    PERFORM require(p_lockout_failures BETWEEN 1 AND 100, 'lockout_failures is 1 to 100');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    UPDATE limiter_policy SET free_per_host = p_free_per_host, free_per_user = p_free_per_user, base_delay = p_base_delay,
        max_delay = p_max_delay, lockout_failures = p_lockout_failures, updated_at = clock_timestamp()
    WHERE id = 1;
    PERFORM audit_write('admin.limiter_policy', NULL, p_peer_uid, NULL, NULL,
        format('free_per_host %s, free_per_user %s, base_delay %s s, max_delay %s s, lockout_failures %s',
            p_free_per_host, p_free_per_user, p_base_delay, p_max_delay, p_lockout_failures));
END
$$;

-- Audit retention, the only way audit rows are deleted: rows older than
-- p_max_age_seconds (at least a day; NULL: no age bound) and all but the newest
-- p_max_events (at least 1000; NULL: no count bound), at most 50000 per call (call
-- again while it returns 50000). Returns how many were deleted; when any were, the
-- deletion is itself audited (audit.pruned).
CREATE FUNCTION otpgate.prune_audit(p_max_age_seconds bigint, p_max_events integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_oldest timestamptz;
    v_last bigint := 0;
    v_count integer;
BEGIN
    PERFORM require(p_max_age_seconds IS NOT NULL OR p_max_events IS NOT NULL, 'give a maximum age, a maximum count or both');
    PERFORM require(p_max_age_seconds IS NULL OR p_max_age_seconds BETWEEN 86400 AND 3153600000,
        'the maximum age is 86400 seconds (a day) to 100 years');
    PERFORM require(p_max_events IS NULL OR p_max_events BETWEEN 1000 AND 2000000000, 'the maximum count is at least 1000');
    v_oldest := CASE WHEN p_max_age_seconds IS NULL THEN '-infinity'::timestamptz
        ELSE clock_timestamp() - make_interval(secs => p_max_age_seconds) END;
    IF p_max_events IS NOT NULL THEN
        v_last := coalesce((SELECT a.id FROM audit_events a ORDER BY a.id DESC OFFSET p_max_events LIMIT 1), 0);
    END IF;
    DELETE FROM audit_events WHERE id IN (
        SELECT a.id FROM audit_events a WHERE a.occurred_at < v_oldest OR a.id <= v_last ORDER BY a.id LIMIT 50000);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM audit_write('audit.pruned', NULL, NULL, NULL, NULL,
            format('%s events deleted by retention (max age %s, max events %s)', v_count,
                coalesce(p_max_age_seconds || ' s', 'none'), coalesce(p_max_events::text, 'none')));
    END IF;
    RETURN v_count;
END
$$;

-- Rekey across the tier, in three steps (docs/POSTGRES.md, "Rekey"):
-- 1. rekey_begin: the new key check becomes the store's; the old one stays as
--    previous, and secrets sealed under either key are accepted. Refused (OG003)
--    while a rekey runs, and unless every login role in otpgate_node reported the
--    new key id (node_report_keys): a node without the new key could not open
--    secrets re-sealed under it, so the procedure stops before changing anything.
-- 2. rekey_sealed + rekey_replace: the admin tool re-seals each secret still under
--    the old key (compare-and-set on the old key id), in batches.
-- 3. rekey_finish: retires the previous key once no secret names it.
CREATE FUNCTION otpgate.rekey_begin(p_new_value bytea, p_peer_uid bigint) RETURNS TABLE (old_key_id text, new_key_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    k record;
    v_new text := sealed_key_id(p_new_value);
    v_missing text;
BEGIN
    PERFORM require(is_sealed(p_new_value), 'the key check is not a sealed value (version 1, 43 to 1024 bytes)');
    PERFORM check_context(NULL, NULL, p_peer_uid);
    SELECT * INTO k FROM key_check WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'OG005', MESSAGE = 'the store has no key check yet: nothing to rekey';
    END IF;
    IF k.previous_value IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003',
            MESSAGE = format('a rekey from key %s to %s is under way: finish it (rekey_finish) first', k.previous_key_id, k.key_id);
    END IF;
    IF v_new = k.key_id THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = format('the store already uses key %s', v_new);
    END IF;
    SELECT string_agg(r.rolname::text, ', ' ORDER BY r.rolname) INTO v_missing
    FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
    WHERE g.rolname = 'otpgate_node' AND r.rolcanlogin
        AND NOT EXISTS (SELECT 1 FROM node_keys n WHERE n.node = r.rolname AND v_new = ANY (n.key_ids));
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003',
            MESSAGE = format('nodes %s have not reported key %s: install the new key on every node and restart it (or remove the node from otpgate_node), then begin again',
                v_missing, v_new);
    END IF;
    UPDATE key_check SET previous_value = value, value = p_new_value, updated_at = clock_timestamp() WHERE id = 1;
    PERFORM audit_write('admin.rekey_begin', NULL, p_peer_uid, NULL, NULL, format('key %s -> %s', k.key_id, v_new));
    RETURN QUERY SELECT k.key_id, v_new;
END
$$;

-- Up to p_limit (1 to 10000) secrets sealed under p_key_id: kind ('token' or
-- 'enrollment'), row id and user name (the binding to re-seal them for).
CREATE FUNCTION otpgate.rekey_sealed(p_key_id text, p_limit integer)
RETURNS TABLE (kind text, id text, user_name text, secret bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(p_key_id ~ '^[0-9a-f]{8}$', 'a key id is 8 lower-case hex digits');
    PERFORM require(p_limit BETWEEN 1 AND 10000, 'limit must be between 1 and 10000');
    RETURN QUERY SELECT * FROM (
        SELECT 'token'::text, t.id, u.name, t.secret FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.key_id = p_key_id
        UNION ALL
        SELECT 'enrollment'::text, e.id, u.name, e.secret FROM enrollments e JOIN users u ON u.id = e.user_id WHERE e.key_id = p_key_id
    ) s LIMIT p_limit;
END
$$;

-- Replaces one sealed secret if it is still under p_old_key_id (compare-and-set:
-- false when it changed or went meanwhile). The new secret must be under the
-- store's current key.
CREATE FUNCTION otpgate.rekey_replace(p_kind text, p_id text, p_old_key_id text, p_secret bytea) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_current text;
BEGIN
    PERFORM require(p_kind IN ('token', 'enrollment'), 'a sealed secret''s kind is token or enrollment');
    PERFORM require(CASE WHEN p_kind = 'token' THEN p_id ~ '^[a-z2-7]{16}$' ELSE p_id ~ '^[a-z2-7]{26}$' END,
        'the id is not a token (16) or enrolment (26) id of a-z and 2-7');
    PERFORM require(p_old_key_id ~ '^[0-9a-f]{8}$', 'a key id is 8 lower-case hex digits');
    PERFORM require(is_sealed(p_secret), 'the secret is not a sealed secret (version 1, 43 to 1024 bytes)');
    SELECT k.key_id INTO v_current FROM key_check k WHERE k.id = 1 FOR SHARE;
    IF v_current IS DISTINCT FROM sealed_key_id(p_secret) THEN
        RAISE EXCEPTION USING ERRCODE = 'OG005',
            MESSAGE = format('the new secret is sealed under key %s, but the store uses key %s', sealed_key_id(p_secret), v_current);
    END IF;
    IF p_old_key_id = v_current THEN
        RAISE EXCEPTION USING ERRCODE = 'OG001', MESSAGE = 'the old key id is the current one: nothing to replace';
    END IF;
    IF p_kind = 'token' THEN
        UPDATE tokens SET secret = p_secret WHERE id = p_id AND key_id = p_old_key_id;
    ELSE
        UPDATE enrollments SET secret = p_secret WHERE id = p_id AND key_id = p_old_key_id;
    END IF;
    RETURN FOUND;
END
$$;

-- Retires the previous key once no token or enrolment is sealed under it (OG003
-- otherwise, naming how many are left). Returns how many secrets are under the new
-- key. Audits admin.rekey ("key OLD -> NEW, N secrets").
CREATE FUNCTION otpgate.rekey_finish(p_peer_uid bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    k record;
    v_left bigint;
    v_count integer;
BEGIN
    PERFORM check_context(NULL, NULL, p_peer_uid);
    -- The exclusive row lock waits for every transaction that holds the share lock
    -- of require_store_key; the counts below then see what they wrote.
    SELECT * INTO k FROM key_check WHERE id = 1 FOR UPDATE;
    IF NOT FOUND OR k.previous_value IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003', MESSAGE = 'no rekey is under way';
    END IF;
    v_left := (SELECT count(*) FROM tokens t WHERE t.key_id = k.previous_key_id)
        + (SELECT count(*) FROM enrollments e WHERE e.key_id = k.previous_key_id);
    IF v_left > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'OG003',
            MESSAGE = format('%s secrets are still sealed under key %s: re-seal them (rekey_sealed, rekey_replace) first',
                v_left, k.previous_key_id);
    END IF;
    UPDATE key_check SET previous_value = NULL, updated_at = clock_timestamp() WHERE id = 1;
    v_count := (SELECT count(*) FROM tokens t WHERE t.key_id = k.key_id) + (SELECT count(*) FROM enrollments e WHERE e.key_id = k.key_id);
    PERFORM audit_write('admin.rekey', NULL, p_peer_uid, NULL, NULL,
        format('key %s -> %s, %s secrets', k.previous_key_id, k.key_id, v_count));
    RETURN v_count;
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA otpgate FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    otpgate.user_reset(text, bigint),
    otpgate.user_unlock(text, bigint),
    otpgate.users_list(),
    otpgate.audit_query(text, bigint, integer),
    otpgate.import_tokens(text, text, jsonb, text, bytea, bytea[], boolean, bigint),
    otpgate.set_limiter_policy(integer, integer, integer, integer, integer, bigint),
    otpgate.prune_audit(bigint, integer),
    otpgate.rekey_begin(bytea, bigint),
    otpgate.rekey_sealed(text, integer),
    otpgate.rekey_replace(text, text, text, bytea),
    otpgate.rekey_finish(bigint)
TO otpgate_admin;

INSERT INTO otpgate.schema_migrations (version, name) VALUES (3, 'v003_admin_functions');
