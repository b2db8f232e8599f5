-- v004_audit_relay: the relay a request came through, in the audit log.
--
-- A request that reached a tier node over the relay link (docs/RELAY.md) is audited
-- with the relay's certificate identity in audit_events.relay; a local caller of the
-- node gets NULL. host stays session_user (the node's own role, which the node
-- cannot forge). The relay column is what the node states: it takes it from the TLS
-- peer certificate, never from the request, so a relay cannot name another relay;
-- a node could, as it could already answer for any relay (it holds the key).
--
-- How the name reaches the row: each node function that audits gets an overload
-- with one more parameter, p_relay. It checks the name, sets the transaction-local
-- setting otpgate.relay and calls the v002 function; the audit trigger copies the
-- setting into the row, whatever the INSERT says. The overload empties the setting
-- again after the call (and an error rolls it back with the transaction), so it
-- holds only while the v002 function runs. The daemon calls only the overloads
-- (NULL for a local caller); the v002 signatures stay, called by the overloads.

ALTER TABLE otpgate.audit_events ADD COLUMN relay text
    CHECK (relay IS NULL OR relay ~ '^[A-Za-z0-9._-]{1,253}$');
CREATE INDEX audit_events_relay ON otpgate.audit_events (relay, id) WHERE relay IS NOT NULL;

-- An event is one lower-case word or more, dotted. v001 and v002 asked for two or
-- more, which refused the daemon's one-word refusal event `forbidden` (which v002's
-- own comment on audit_append names): a tier logged refused requests but audited
-- none. The table's rule and audit_append's check now take one word too.
ALTER TABLE otpgate.audit_events DROP CONSTRAINT audit_events_event_check;
ALTER TABLE otpgate.audit_events ADD CONSTRAINT audit_events_event_check
    CHECK (octet_length(event) <= 64 AND event ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$');

CREATE OR REPLACE FUNCTION otpgate.audit_append(p_event text, p_user text, p_peer_uid bigint, p_service text,
    p_rhost text, p_detail text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(octet_length(p_event) <= 64 AND p_event ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$',
        'an audit event is up to 64 bytes of lower-case words joined by dots (forbidden, verify.limited)');
    PERFORM require(p_user IS NULL OR is_label(p_user, 256), 'a user name has 1 to 256 bytes and no control characters');
    PERFORM check_context(p_rhost, p_service, p_peer_uid);
    PERFORM require(p_detail IS NULL OR is_label(p_detail, 1024), 'an audit detail has 1 to 1024 bytes and no control characters');
    RETURN audit_write(p_event, p_user, p_peer_uid, p_service, p_rhost, p_detail);
END
$$;

-- A relay's name is its certificate's CN as the daemon checked it (PeerIdentity):
-- a host name of letters, digits, '.', '-' and '_', 1 to 253 bytes; or NULL.
CREATE FUNCTION otpgate.check_relay(p_relay text) RETURNS void
LANGUAGE sql SET search_path = otpgate, pg_temp
RETURN otpgate.require(p_relay IS NULL OR p_relay ~ '^[A-Za-z0-9._-]{1,253}$',
    'a relay name is a host name: letters, digits, ''.'', ''-'' and ''_'', 1 to 253 bytes');

CREATE OR REPLACE FUNCTION otpgate.audit_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = otpgate, pg_temp AS $$
BEGIN
    NEW.occurred_at := clock_timestamp();
    NEW.host := session_user;
    NEW.relay := nullif(current_setting('otpgate.relay', true), '');
    RETURN NEW;
END
$$;

CREATE FUNCTION otpgate.accept_code(p_user text, p_token_id text, p_counter bigint, p_drift integer,
    p_attempt integer, p_service text, p_peer_uid bigint, p_rhost text, p_relay text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_result text;
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    v_result := accept_code(p_user, p_token_id, p_counter, p_drift, p_attempt, p_service, p_peer_uid, p_rhost);
    PERFORM set_config('otpgate.relay', '', true);
    RETURN v_result;
END
$$;

CREATE FUNCTION otpgate.consume_code(p_user text, p_kind text, p_code_id bigint, p_attempt integer,
    p_service text, p_peer_uid bigint, p_rhost text, p_relay text)
RETURNS TABLE (outcome text, remaining integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    RETURN QUERY SELECT * FROM consume_code(p_user, p_kind, p_code_id, p_attempt, p_service, p_peer_uid, p_rhost);
    PERFORM set_config('otpgate.relay', '', true);
END
$$;

CREATE FUNCTION otpgate.record_failure(p_user text, p_rhost text, p_attempt integer, p_event text,
    p_service text, p_peer_uid bigint, p_detail text, p_relay text)
RETURNS TABLE (failures integer, locked_until bigint, locked_out boolean, locked_out_now boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    RETURN QUERY SELECT * FROM record_failure(p_user, p_rhost, p_attempt, p_event, p_service, p_peer_uid, p_detail);
    PERFORM set_config('otpgate.relay', '', true);
END
$$;

CREATE FUNCTION otpgate.record_not_enrolled(p_user text, p_rhost text, p_service text, p_peer_uid bigint,
    p_relay text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    PERFORM record_not_enrolled(p_user, p_rhost, p_service, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
END
$$;

CREATE FUNCTION otpgate.resync_token(p_user text, p_token_id text, p_watermark bigint, p_skew integer,
    p_drift integer, p_peer_uid bigint, p_relay text)
RETURNS TABLE (outcome text, locked_until bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    RETURN QUERY SELECT * FROM resync_token(p_user, p_token_id, p_watermark, p_skew, p_drift, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
END
$$;

CREATE FUNCTION otpgate.token_remove(p_user text, p_token_id text, p_peer_uid bigint, p_relay text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_result integer;
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    v_result := token_remove(p_user, p_token_id, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
    RETURN v_result;
END
$$;

CREATE FUNCTION otpgate.recovery_codes_replace(p_user text, p_kdf text, p_salt bytea, p_hashes bytea[],
    p_peer_uid bigint, p_relay text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_result integer;
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    v_result := recovery_codes_replace(p_user, p_kdf, p_salt, p_hashes, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
    RETURN v_result;
END
$$;

CREATE FUNCTION otpgate.enrollment_begin(p_user text, p_enrollment_id text, p_name text, p_kind text,
    p_algorithm text, p_digits integer, p_period integer, p_initial_counter bigint, p_secret bytea,
    p_ttl_seconds integer, p_peer_uid bigint, p_relay text)
RETURNS TABLE (codeless boolean, created_at bigint, expires_at bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    RETURN QUERY SELECT * FROM enrollment_begin(p_user, p_enrollment_id, p_name, p_kind, p_algorithm, p_digits, p_period, p_initial_counter, p_secret, p_ttl_seconds, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
END
$$;

CREATE FUNCTION otpgate.enrollment_confirm(p_user text, p_enrollment_id text, p_token_id text, p_secret bytea,
    p_watermark bigint, p_drift integer, p_attempt integer, p_recovery_kdf text, p_recovery_salt bytea,
    p_recovery_hashes bytea[], p_peer_uid bigint, p_relay text)
RETURNS TABLE (outcome text, token_id text, token_name text, stored_recovery_codes boolean, created_at bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    RETURN QUERY SELECT * FROM enrollment_confirm(p_user, p_enrollment_id, p_token_id, p_secret, p_watermark, p_drift, p_attempt, p_recovery_kdf, p_recovery_salt, p_recovery_hashes, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
END
$$;

CREATE FUNCTION otpgate.enrollment_cancel(p_user text, p_enrollment_id text, p_event text, p_peer_uid bigint,
    p_relay text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_result boolean;
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    v_result := enrollment_cancel(p_user, p_enrollment_id, p_event, p_peer_uid);
    PERFORM set_config('otpgate.relay', '', true);
    RETURN v_result;
END
$$;

CREATE FUNCTION otpgate.audit_append(p_event text, p_user text, p_peer_uid bigint, p_service text,
    p_rhost text, p_detail text, p_relay text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
DECLARE
    v_result bigint;
BEGIN
    PERFORM check_relay(p_relay);
    PERFORM set_config('otpgate.relay', coalesce(p_relay, ''), true);
    v_result := audit_append(p_event, p_user, p_peer_uid, p_service, p_rhost, p_detail);
    PERFORM set_config('otpgate.relay', '', true);
    RETURN v_result;
END
$$;

-- The v002 signatures stay granted, so a tool or script written against v002 keeps
-- working; its rows name no relay (unless its own session set otpgate.relay: the
-- node's word, as p_relay is).
GRANT EXECUTE ON FUNCTION
    otpgate.accept_code(text, text, bigint, integer, integer, text, bigint, text, text),
    otpgate.consume_code(text, text, bigint, integer, text, bigint, text, text),
    otpgate.record_failure(text, text, integer, text, text, bigint, text, text),
    otpgate.record_not_enrolled(text, text, text, bigint, text),
    otpgate.resync_token(text, text, bigint, integer, integer, bigint, text),
    otpgate.token_remove(text, text, bigint, text),
    otpgate.recovery_codes_replace(text, text, bytea, bytea[], bigint, text),
    otpgate.enrollment_begin(text, text, text, text, text, integer, integer, bigint, bytea, integer, bigint, text),
    otpgate.enrollment_confirm(text, text, text, bytea, bigint, integer, integer, text, bytea, bytea[], bigint, text),
    otpgate.enrollment_cancel(text, text, text, bigint, text),
    otpgate.audit_append(text, text, bigint, text, text, text, text)
TO otpgate_node;

-- audit_query returns the relay too (last, so a reader of the v003 columns by
-- position still reads them).
DROP FUNCTION otpgate.audit_query(text, bigint, integer);
CREATE FUNCTION otpgate.audit_query(p_user text, p_since bigint, p_limit integer)
RETURNS TABLE (id bigint, occurred_at bigint, host text, event text, user_name text, peer_uid bigint, service text,
    rhost text, detail text, relay text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = otpgate, pg_temp AS $$
BEGIN
    PERFORM require(p_user IS NULL OR is_label(p_user, 256), 'a user name has 1 to 256 bytes and no control characters');
    PERFORM require(p_since IS NULL OR p_since BETWEEN 0 AND 253402300799, 'since is a Unix time from 0 to year 9999');
    PERFORM require(p_limit BETWEEN 1 AND 10000, 'limit must be between 1 and 10000');
    RETURN QUERY SELECT * FROM (
        SELECT a.id, epoch(a.occurred_at), a.host, a.event, a.user_name, a.peer_uid, a.service, a.rhost, a.detail, a.relay
        FROM audit_events a
        WHERE (p_user IS NULL OR a.user_name = p_user) AND (p_since IS NULL OR a.occurred_at >= to_timestamp(p_since))
        ORDER BY a.id DESC LIMIT p_limit
    ) newest ORDER BY 1;
END
$$;
GRANT EXECUTE ON FUNCTION otpgate.audit_query(text, bigint, integer) TO otpgate_admin;

INSERT INTO otpgate.schema_migrations (version, name) VALUES (4, 'v004_audit_relay');
