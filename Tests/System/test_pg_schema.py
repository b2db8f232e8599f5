#!/usr/bin/env python3
"""The PostgreSQL store's database side, through psql against a real PostgreSQL 15
(Tests/System/pgfixture.py): migrations, roles and privileges, invariant triggers,
every function's refusal of bad arguments, the accept compare-and-set and the failure
counter under parallel clients (each beside a control that must go wrong), audit
rows naming the session role.

    python3 Tests/System/test_pg_schema.py

Needs Debian's postgresql-15 (/usr/lib/postgresql/15/bin). As root, the server runs
as nobody. Exits 1 if any check fails.
"""
import base64
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgfixture import PG_BIN, PgCluster, PgError, migration_files  # noqa: E402

FAILURES = []
KEY = "a1b2c3d4"
OTHER_KEY = "0badc0de"


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def sealed(key=None, size=20):
    """A value shaped like the daemon's sealed secret (version 1, key id, nonce,
    ciphertext, tag) under key (the store's by default); the database never opens it."""
    return bytes([1]) + bytes.fromhex(key or KEY) + os.urandom(12 + size + 16)


def hexlit(b):
    return "'\\x" + b.hex() + "'::bytea"


def b32id(n):
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(random.choice(alphabet) for _ in range(n))


def q(s):
    """A SQL literal (text), NULL for None."""
    if s is None:
        return "NULL"
    return "'" + str(s).replace("'", "''") + "'"


def expect_error(pg, sql, role, sqlstate, what):
    try:
        pg.psql(sql, role=role)
    except PgError as e:
        check(e.sqlstate == sqlstate, f"{what}: refused with {sqlstate} (got {e.sqlstate}: {e.message})")
        return e
    check(False, f"{what}: refused with {sqlstate} (it succeeded)")
    return None


def dump(pg):
    """The otpgate schema with every row of every table and the sequences' values
    (a failed INSERT would have moved one). pg_dump's per-run \\restrict key aside."""
    r = subprocess.run(
        [os.path.join(PG_BIN, "pg_dump"), "-h", pg.sockets, "-p", str(pg.port), "-U",
         "postgres", "--schema=otpgate", "otpgate"],
        capture_output=True, text=True, env=pg.env(), check=True)
    return "\n".join(line for line in r.stdout.split("\n") if not line.startswith(("\\restrict", "\\unrestrict")))


# -- migrations ---------------------------------------------------------------------


def test_migrations(pg):
    files = migration_files()
    names = [n for _, n, _ in files]
    check(len(names) >= 3 and names == sorted(names), f"migration files in order: {names}")
    check(pg.applied_migrations() == names, "an empty database gets every migration, each recorded by name")
    before = dump(pg)
    check(pg.migrate() == [], "migrating again applies nothing")
    check(dump(pg) == before, "migrating again changes nothing")
    # A file applied by hand a second time fails as a whole and changes nothing.
    last = files[-1][2]
    r = subprocess.run(pg.psql_args(role="otpgate_owner") + ["-1", "-f", last], capture_output=True, text=True, env=pg.env())
    check(r.returncode != 0, "applying a shipped migration twice by hand fails")
    check(dump(pg) == before, "... and changes nothing")
    # The migrations run only as the owner.
    e = expect_error(pg, open(files[0][2]).read(), "postgres", "OG007", "migrating as another role")
    # A database with a migration this build does not know is refused, by the
    # runner (as the owner) and by a node (schema_versions).
    pg.psql("INSERT INTO otpgate.schema_migrations (version, name) VALUES (99, 'v099_from_the_future')", role="otpgate_owner")
    try:
        pg.migrate()
        check(False, "a database with an unknown migration is refused")
    except RuntimeError as err:
        check("v099_from_the_future" in str(err), f"a database with an unknown migration is refused ({err})")
    rows = pg.psql("SELECT name FROM otpgate.schema_versions()", role="node_a")
    check(rows == names + ["v099_from_the_future"], "a node sees the unknown migration through schema_versions()")
    unknown = pg.psql(
        "SELECT name FROM otpgate.schema_migrations WHERE name <> ALL (" + q("{" + ",".join(names) + "}") + "::text[])",
        role="otpgate_owner")
    check(unknown == ["v099_from_the_future"], "the runner's query for unknown migrations finds it")
    pg.psql("DELETE FROM otpgate.schema_migrations WHERE version = 99", role="otpgate_owner")


# -- a walk through every operation -------------------------------------------------


def test_flow(pg):
    """The happy paths of every function, as a node and an admin would call them."""
    n = "node_a"
    rows = pg.psql(f"SELECT key_id, created FROM otpgate.key_check_init({hexlit(sealed(size=20))}, 0)", role=n)
    check(rows == [f"{KEY}|t"], "the first node writes the key check")
    rows = pg.psql(f"SELECT key_id, created FROM otpgate.key_check_init({hexlit(sealed(OTHER_KEY))}, 0)", role="node_b")
    check(rows == [f"{KEY}|f"], "a second node's key check does not replace it (and names the store's key)")

    enr = b32id(26)
    rows = pg.psql(
        f"SELECT codeless, expires_at - created_at FROM otpgate.enrollment_begin('alice', '{enr}', 'phone', 'totp', 'SHA1', 6, 30, 0, "
        f"{hexlit(sealed())}, 600, 1000)", role=n)
    check(rows == ["t|600"], f"enrollment_begin for a new user: codeless, expires in 600 s ({rows})")
    rows = pg.psql(f"SELECT admitted, attempt, outranked, octet_length(secret) FROM otpgate.enrollment_reserve('alice', '{enr}')", role=n)
    check(rows == ["t|1|f|53"], f"enrollment_reserve admits the first attempt and returns the secret ({rows})")
    tok = b32id(16)
    now = int(pg.psql("SELECT now_s FROM otpgate.health()", role=n)[0])
    step = now // 30
    rows = pg.psql(
        f"SELECT outcome, token_name, stored_recovery_codes FROM otpgate.enrollment_confirm('alice', '{enr}', '{tok}', {hexlit(sealed())}, "
        f"{step}, 0, 1, 'scrypt:n=16384,r=8,p=1', {hexlit(os.urandom(16))}, ARRAY[{hexlit(os.urandom(32))}, {hexlit(os.urandom(32))}], 1000)",
        role=n)
    check(rows == ["confirmed|phone|t"], f"enrollment_confirm makes the token and stores recovery codes ({rows})")
    rows = pg.psql("SELECT failures FROM otpgate.read_user('alice')", role=n)
    check(rows == ["0"], "a confirmation un-counts its own attempt")

    rows = pg.psql("SELECT user_known, admitted, token_name, watermark, recovery_remaining FROM otpgate.read_user('alice', 'h1')", role=n)
    check(rows == [f"t||phone|{step}|2"], f"read_user returns the token, watermark and recovery count ({rows})")
    rows = pg.psql("SELECT user_known, token_id IS NULL, failures FROM otpgate.read_user('nobody-here')", role=n)
    check(rows == ["f|t|0"], "read_user of an unknown user: one row, no token")

    rows = pg.psql("SELECT admitted, attempt, failures, host_failures FROM otpgate.reserve_attempt('alice', 'h1')", role=n)
    check(rows == ["t|1|1|1"], f"reserve_attempt counts the attempt up front ({rows})")
    rows = pg.psql(f"SELECT otpgate.accept_code('alice', '{tok}', {step + 1}, 1, 1, 'sshd', 0, 'h1')", role=n)
    check(rows == ["accepted"], "accept_code accepts the next step")
    rows = pg.psql(f"SELECT otpgate.accept_code('alice', '{tok}', {step + 1}, 1, NULL, 'sshd', 0, 'h1')", role=n)
    check(rows == ["replayed"], "accept_code refuses the same step again")
    rows = pg.psql("SELECT failures, host_failures, grace_granted_at IS NOT NULL FROM otpgate.read_user('alice', 'h1')", role=n)
    check(rows == ["0|0|t"], f"a success clears the attempt's count and grants grace to the host ({rows})")

    # A success takes back its own count and those before it, not those of attempts
    # reserved after it (still being evaluated elsewhere).
    first = pg.psql("SELECT attempt FROM otpgate.reserve_attempt('alice', 'h1')", role=n)
    later = pg.psql("SELECT attempt FROM otpgate.reserve_attempt('alice', 'h2')", role="node_b")
    check(first == ["1"] and later == ["2"], f"two attempts in flight on two nodes hold positions 1 and 2 ({first}, {later})")
    rows = pg.psql(f"SELECT otpgate.accept_code('alice', '{tok}', {step + 2}, 0, 1, 'sshd', 0, 'h1')", role=n)
    rows += pg.psql("SELECT failures, host_failures FROM otpgate.read_user('alice', 'h2')", role=n)
    check(rows == ["accepted", "1|0"], f"the first one's success leaves the later one counted ({rows})")
    rows = pg.psql("SELECT failures FROM otpgate.record_failure('alice', 'h2', 2, 'verify.invalid', 'sshd', 0, NULL)", role="node_b")
    check(rows == ["1"], "... and its failure stays counted once")
    pg.psql("SELECT otpgate.user_unlock('alice', 0)", role="admin_a")

    rows = pg.psql("SELECT admitted, attempt FROM otpgate.reserve_attempt('alice', 'h1')", role=n)
    check(rows == ["t|1"], "a second attempt is reserved")
    rows = pg.psql("SELECT failures, locked_out, locked_out_now FROM otpgate.record_failure('alice', 'h1', 1, 'verify.invalid', 'sshd', 0, NULL)", role=n)
    check(rows == ["1|f|f"], f"record_failure after a reservation does not count again ({rows})")
    rows = pg.psql("SELECT grace_granted_at IS NULL FROM otpgate.read_user('alice', 'h1')", role=n)
    check(rows == ["t"], "a failure from the host revokes its grace")

    codes = pg.psql("SELECT code_id FROM otpgate.unused_codes('alice', 'recovery')", role=n)
    check(len(codes) == 2, "unused_codes lists the recovery hashes")
    rows = pg.psql(f"SELECT outcome, remaining FROM otpgate.consume_code('alice', 'recovery', {codes[0]}, NULL, 'sshd', 0, NULL)", role=n)
    check(rows == ["accepted|1"], "consume_code uses a recovery code")
    rows = pg.psql(f"SELECT outcome, remaining FROM otpgate.consume_code('alice', 'recovery', {codes[0]}, NULL, 'sshd', 0, NULL)", role=n)
    check(rows == ["no_match|0"], "... once")

    rows = pg.psql(f"SELECT outcome FROM otpgate.resync_token('alice', '{tok}', {step + 3}, 2, 2, 1000)", role=n)
    check(rows == ["accepted"], "resync_token moves the watermark forward and sets the skew")
    rows = pg.psql(f"SELECT outcome FROM otpgate.resync_token('alice', '{tok}', {step + 2}, 1, 1, 1000)", role=n)
    check(rows == ["replayed"], "resync_token never moves it back")
    rows = pg.psql("SELECT skew, watermark FROM otpgate.read_user('alice')", role=n)
    check(rows == [f"2|{step + 3}"], f"... and left the resynced values ({rows})")

    enr2 = b32id(26)
    rows = pg.psql(
        f"SELECT codeless FROM otpgate.enrollment_begin('alice', '{enr2}', 'backup', 'hotp', 'SHA256', 8, 30, 5, {hexlit(sealed())}, 600, 1000)",
        role=n)
    check(rows == ["f"], "an enrolment begun by a user with a token is not codeless")
    rows = pg.psql("SELECT name, kind, codeless FROM otpgate.pending_enrollments('alice')", role=n)
    check(rows == ["backup|hotp|f"], "pending_enrollments lists it")
    rows = pg.psql(f"SELECT otpgate.enrollment_cancel('alice', '{enr2}', 'enroll.cancel', 1000)", role=n)
    check(rows == ["t"], "enrollment_cancel removes it")
    rows = pg.psql(f"SELECT otpgate.enrollment_cancel('alice', '{enr2}', 'enroll.cancel', 1000)", role=n)
    check(rows == ["f"], "... and says so when there is none")

    # An enrolment begun without a code is outranked once the user has a token.
    enr3 = b32id(26)
    pg.psql(f"SELECT * FROM otpgate.enrollment_begin('bob', '{enr3}', 'phone', 'totp', 'SHA1', 6, 30, 0, {hexlit(sealed())}, 600, 1001)", role=n)
    rows = pg.psql(
        "SELECT outcome FROM otpgate.import_tokens('bob', 'add', " + q(json.dumps([token_json("first")])) + "::jsonb, NULL, NULL, NULL, false, 0)",
        role="admin_a")
    check(rows == ["imported"], "import_tokens adds a token")
    rows = pg.psql(f"SELECT admitted, outranked FROM otpgate.enrollment_reserve('bob', '{enr3}')", role=n)
    check(rows == ["f|t"], "enrollment_reserve reports an outranked enrolment without counting")
    rows = pg.psql(
        f"SELECT outcome FROM otpgate.enrollment_confirm('bob', '{enr3}', '{b32id(16)}', {hexlit(sealed())}, {step}, 0, NULL, NULL, NULL, NULL, 1001)",
        role=n)
    check(rows == ["outranked"], "enrollment_confirm refuses an outranked enrolment")
    rows = pg.psql("SELECT count(*) FROM otpgate.pending_enrollments('bob')", role=n)
    check(rows == ["0"], "... and removes it")

    bob_tok = pg.psql("SELECT token_id FROM otpgate.read_user('bob')", role=n)[0]
    expect_error(pg, f"SELECT otpgate.accept_code('bob', '{bob_tok}', 1000000, 0, NULL, NULL, 0, NULL)", n, "OG001",
                 "an HOTP counter a million past the next one")
    rows = pg.psql(f"SELECT otpgate.accept_code('bob', '{bob_tok}', 999999, 0, NULL, NULL, 0, NULL)", role=n)
    check(rows == ["accepted"], "control: one just below that is accepted")
    reach = int(pg.psql("SELECT now_s FROM otpgate.health()", role=n)[0]) // 30 + 2 + 11  # alice's skew is 2
    expect_error(pg, f"SELECT otpgate.accept_code('alice', '{tok}', {reach + 1}, 0, NULL, NULL, 0, NULL)", n, "OG001",
                 "a TOTP step beyond the store's clock, the skew and the window's reach")
    rows = pg.psql(f"SELECT otpgate.token_remove('bob', '{bob_tok}', 0)", role=n)
    check(rows == ["0"], "token_remove returns the tokens left")
    rows = pg.psql(
        f"SELECT otpgate.recovery_codes_replace('alice', 'scrypt:n=16384,r=8,p=1', {hexlit(os.urandom(16))}, ARRAY[{hexlit(os.urandom(32))}], 1000)",
        role=n)
    check(rows == ["1"], "recovery_codes_replace stores the new batch")
    rows = pg.psql("SELECT otpgate.audit_append('verify.limited', 'alice', 0, 'sshd', 'h1', NULL) > 0", role=n)
    check(rows == ["t"], "audit_append appends")
    rows = pg.psql("SELECT otpgate.generation_advance(5, NULL, NULL, 0), otpgate.generation_advance(0, NULL, NULL, 0)", role=n)
    rows += pg.psql("SELECT otpgate.generation_read()", role=n)
    check(rows == ["6|7", "7"], f"generation_advance raises above what the node recorded ({rows})")
    pg.psql(f"SELECT otpgate.node_report_keys(ARRAY['{KEY}'])", role=n)
    rows = pg.psql("SELECT in_recovery, synchronous_commit, synchronous_standby_names, session_role FROM otpgate.health()", role=n)
    check(rows == ["f|on||node_a"], f"health reports recovery, synchronous_commit, the standby names and the role ({rows})")
    rows = pg.psql("SELECT otpgate.enrollment_purge(86400)", role=n)
    check(rows == ["0"], "enrollment_purge removes nothing unexpired")
    rows = pg.psql("SELECT otpgate.record_not_enrolled('nobody-here', 'h1', 'sshd', 0)", role=n)
    check(rows == [""] or rows == [], "record_not_enrolled audits")

    # Admin.
    a = "admin_a"
    rows = pg.psql("SELECT user_name, tokens FROM otpgate.users_list()", role=a)
    check(rows == ["alice|1", "bob|0"], f"users_list ({rows})")
    rows = pg.psql("SELECT otpgate.user_unlock('alice', 0), otpgate.user_unlock('carol', 0)", role=a)
    check(rows == ["t|f"], "user_unlock: true for a known user, false for an unknown one")
    rows = pg.psql("SELECT otpgate.user_reset('bob', 0), otpgate.user_reset('bob', 0)", role=a)
    check(rows == ["t|f"], "user_reset: once")
    rows = pg.psql("SELECT event FROM otpgate.audit_query('bob', NULL, 3)", role=a)
    check(rows[-1] == "admin.reset", f"audit_query returns the newest events, oldest first ({rows})")
    pg.psql("SELECT otpgate.set_limiter_policy(3, 10, 2, 900, 100, 0)", role=a)
    rows = pg.psql("SELECT lockout_failures FROM otpgate.limiter_policy_read()", role=n)
    check(rows == ["100"], "limiter_policy_read")
    test_rekey(pg)


def token_json(name, tid=None, kind="hotp", watermark=None, key=None):
    return {
        "id": tid or b32id(16), "name": name, "kind": kind, "algorithm": "SHA1", "digits": 6, "period": 30,
        "initial_counter": 0, "secret": base64.b64encode(sealed(key)).decode(), "watermark": watermark, "skew": 0,
        "window": None, "detail": f"from test: {kind} token {name}",
    }


def test_rekey(pg):
    global KEY
    a = "admin_a"
    new = "feedf00d"
    pg.psql(f"SELECT otpgate.node_report_keys(ARRAY['{KEY}', '{new}'])", role="node_a")
    e = expect_error(pg, f"SELECT * FROM otpgate.rekey_begin({hexlit(sealed(new))}, 0)", a, "OG003", "rekey_begin while a node lacks the new key")
    check(e is not None and "node_b" in e.message and "node_a" not in e.message, "... names the node that lacks it")
    pg.psql(f"SELECT otpgate.node_report_keys(ARRAY['{KEY}', '{new}'])", role="node_a")
    pg.psql(f"SELECT otpgate.node_report_keys(ARRAY['{KEY}', '{new}'])", role="node_b")
    pg.psql(f"SELECT otpgate.node_report_keys(ARRAY['{new}'])", role="node_c")
    rows = pg.psql(f"SELECT old_key_id, new_key_id FROM otpgate.rekey_begin({hexlit(sealed(new))}, 0)", role=a)
    check(rows == [f"{KEY}|{new}"], "rekey_begin once every node holds the new key")
    # During the rekey a node may still seal under the old key.
    pg.psql(f"SELECT * FROM otpgate.enrollment_begin('dave', '{b32id(26)}', 'phone', 'totp', 'SHA1', 6, 30, 0, {hexlit(sealed(KEY))}, 600, 0)",
            role="node_a")
    expect_error(pg, f"SELECT * FROM otpgate.enrollment_begin('dave', '{b32id(26)}', 'tab', 'totp', 'SHA1', 6, 30, 0, {hexlit(sealed(OTHER_KEY))}, 600, 0)",
                 "node_a", "OG005", "a secret under a key the store does not use")
    expect_error(pg, "SELECT otpgate.rekey_finish(0)", a, "OG003", "rekey_finish while secrets remain under the old key")
    rows = pg.psql(f"SELECT kind, id FROM otpgate.rekey_sealed('{KEY}', 10000)", role=a)
    done = 0
    for row in rows:
        kind, rid = row.split("|")
        if pg.psql(f"SELECT otpgate.rekey_replace('{kind}', '{rid}', '{KEY}', {hexlit(sealed(new))})", role=a) == ["t"]:
            done += 1
    check(done == len(rows) and done >= 2, f"rekey_replace re-seals every secret under the old key ({done})")
    rows = pg.psql(f"SELECT otpgate.rekey_replace('{rows[0].split('|')[0]}', '{rows[0].split('|')[1]}', '{KEY}', {hexlit(sealed(new))})", role=a)
    check(rows == ["f"], "rekey_replace is a compare-and-set on the old key id")
    rows = pg.psql("SELECT otpgate.rekey_finish(0)", role=a)
    check(rows == [str(done)], "rekey_finish retires the old key")
    expect_error(pg, f"SELECT * FROM otpgate.enrollment_begin('dave', '{b32id(26)}', 'tab', 'totp', 'SHA1', 6, 30, 0, {hexlit(sealed(KEY))}, 600, 0)",
                 "node_a", "OG005", "a secret under the retired key")
    rows = pg.psql("SELECT key_id, previous_key_id IS NULL FROM otpgate.key_check_read()", role="node_a")
    check(rows == [f"{new}|t"], "the key check names the new key alone")
    KEY = new



# -- roles and privileges -----------------------------------------------------------

# The interface, as documented in docs/POSTGRES.md: which group may execute what.
NODE_FUNCTIONS = {
    "read_user", "reserve_attempt", "accept_code", "unused_codes", "consume_code", "record_failure",
    "record_not_enrolled", "resync_token", "enrollment_begin", "enrollment_reserve", "enrollment_confirm",
    "enrollment_cancel", "enrollment_purge", "pending_enrollments", "token_remove", "recovery_codes_replace",
    "audit_append", "key_check_init", "node_report_keys", "generation_read", "generation_advance",
}
SHARED_FUNCTIONS = {"key_check_read", "health", "schema_versions", "limiter_policy_read", "sealed_by_key",
                    "pending_enrollments", "read_user"}
ADMIN_FUNCTIONS = {
    "user_reset", "user_unlock", "users_list", "audit_query", "import_tokens", "set_limiter_policy", "prune_audit",
    "rekey_begin", "rekey_sealed", "rekey_replace", "rekey_finish",
}


def run_script(pg, role, statements):
    """Runs statements one by one in one session, going on after errors; returns the
    SQLSTATE of each failed one, in order."""
    script = "\\set ON_ERROR_STOP off\n" + "\n".join(s.rstrip(";") + ";" for s in statements) + "\n"
    r = subprocess.run(pg.psql_args(role=role), input=script, capture_output=True, text=True, env=pg.env())
    codes = []
    for line in r.stderr.split("\n"):
        if line.startswith("ERROR:"):
            codes.append(line[len("ERROR:"):].strip().split(":")[0])
    return codes


def test_privileges(pg):
    tables = pg.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'otpgate' ORDER BY 1")
    check(len(tables) >= 13, f"{len(tables)} tables in schema otpgate")
    statements = []
    for t in tables:
        col = pg.psql(f"SELECT attname FROM pg_attribute WHERE attrelid = 'otpgate.{t}'::regclass AND attnum > 0 "
                      "AND attidentity = '' AND attgenerated = '' ORDER BY attnum LIMIT 1")[0]
        statements += [f"SELECT * FROM otpgate.{t} LIMIT 1", f"UPDATE otpgate.{t} SET {col} = {col}",
                       f"DELETE FROM otpgate.{t}", f"INSERT INTO otpgate.{t} DEFAULT VALUES", f"TRUNCATE otpgate.{t}"]
    for role in ("node_a", "admin_a", "stranger"):
        codes = run_script(pg, role, statements)
        check(codes == ["42501"] * len(statements),
              f"{role} can neither SELECT, UPDATE, DELETE, INSERT nor TRUNCATE any of the {len(tables)} tables "
              f"({len(codes)} of {len(statements)} refused)")

    rows = pg.psql(
        "SELECT p.proname, has_function_privilege('otpgate_node', p.oid, 'EXECUTE'), "
        "has_function_privilege('otpgate_admin', p.oid, 'EXECUTE'), has_function_privilege('stranger', p.oid, 'EXECUTE'), "
        "p.prosecdef, array_to_string(p.proconfig, ';'), pg_get_userbyid(p.proowner), "
        "oidvectortypes(p.proargtypes) "
        "FROM pg_proc p WHERE p.pronamespace = 'otpgate'::regnamespace ORDER BY 1")
    node, admin, public, bad_definer, bad_path, not_owned, signatures = set(), set(), set(), [], [], [], {}
    for row in rows:
        name, n, a, s, definer, config, owner, args = row.split("|")
        signatures[name] = args
        if n == "t":
            node.add(name)
        if a == "t":
            admin.add(name)
        if s == "t":
            public.add(name)
        if (n == "t" or a == "t") and definer != "t":
            bad_definer.append(name)
        # The value checks used by CHECK constraints stay inlinable SQL: they call only
        # pg_catalog built-ins, which a search_path cannot shadow.
        if config != "search_path=otpgate, pg_temp" and name not in ("is_label", "is_sealed", "sealed_key_id", "epoch"):
            bad_path.append(name)
        if owner != "otpgate_owner":
            not_owned.append(name)
    check(node == NODE_FUNCTIONS | SHARED_FUNCTIONS, f"otpgate_node executes exactly the node functions (extra {node - NODE_FUNCTIONS - SHARED_FUNCTIONS}, missing {NODE_FUNCTIONS | SHARED_FUNCTIONS - node})")
    check(admin == ADMIN_FUNCTIONS | SHARED_FUNCTIONS, f"otpgate_admin executes exactly the admin functions (extra {admin - ADMIN_FUNCTIONS - SHARED_FUNCTIONS}, missing {ADMIN_FUNCTIONS | SHARED_FUNCTIONS - admin})")
    check(not public, f"no otpgate function is executable by PUBLIC ({sorted(public)})")
    check(not bad_definer, f"every granted function is SECURITY DEFINER ({bad_definer})")
    check(not bad_path, f"every function has search_path otpgate, pg_temp ({bad_path})")
    check(not not_owned, f"otpgate_owner owns every function ({not_owned})")
    owners = pg.psql("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'otpgate'::regnamespace")
    check(owners == ["otpgate_owner"], f"otpgate_owner owns every table, index and sequence ({owners})")

    def calls(names):
        out = []
        for name in sorted(names):
            args = signatures[name].split(", ") if signatures[name] else []
            out.append(f"SELECT otpgate.{name}(" + ", ".join(f"NULL::{t}" for t in args) + ")")
        return out

    internal = set(signatures) - NODE_FUNCTIONS - SHARED_FUNCTIONS - ADMIN_FUNCTIONS
    for role, names, what in (
        ("node_a", ADMIN_FUNCTIONS | internal, "admin and internal functions"),
        ("admin_a", NODE_FUNCTIONS - SHARED_FUNCTIONS | internal, "node-only and internal functions"),
        ("stranger", set(signatures), "any otpgate function"),
    ):
        statements = calls(names)
        codes = run_script(pg, role, statements)
        check(codes == ["42501"] * len(statements), f"{role} cannot run {what} ({len(codes)} of {len(statements)} refused: {set(codes)})")

    # A node cannot lower a watermark: not through the functions, not directly.
    rows = pg.psql("SELECT user_name FROM otpgate.users_list() WHERE tokens > 0", role="admin_a")
    user = rows[0]
    tok, wm = pg.psql(f"SELECT token_id, watermark FROM otpgate.read_user('{user}')", role="node_a")[0].split("|")
    wm = int(wm)
    rows = pg.psql(f"SELECT otpgate.accept_code('{user}', '{tok}', {wm - 1}, 0, NULL, NULL, 0, NULL), "
                   f"(SELECT outcome FROM otpgate.resync_token('{user}', '{tok}', {wm - 1}, 0, 0, 0)), "
                   f"(SELECT outcome FROM otpgate.resync_token('{user}', '{tok}', {wm}, 0, 0, 0))", role="node_a")
    check(rows == ["replayed|replayed|replayed"], f"accept_code and resync_token refuse a watermark at or below the last ({rows})")
    rows = pg.psql(f"SELECT watermark FROM otpgate.read_user('{user}')", role="node_a")
    check(rows == [str(wm)], "... and it did not move")
    expect_error(pg, f"UPDATE otpgate.tokens SET watermark = 0 WHERE id = '{tok}'", "node_a", "42501", "a node updating a watermark directly")
    expect_error(pg, f"UPDATE otpgate.tokens SET watermark = watermark - 1 WHERE id = '{tok}'", "otpgate_owner", "OG006",
                 "the owner lowering a watermark (trigger)")
    expect_error(pg, f"UPDATE otpgate.tokens SET watermark = NULL WHERE id = '{tok}'", "otpgate_owner", "OG006",
                 "the owner clearing a watermark (trigger)")
    expect_error(pg, f"UPDATE otpgate.tokens SET digits = 8 WHERE id = '{tok}'", "otpgate_owner", "OG006",
                 "the owner changing a token's parameters (trigger)")
    pg.psql(f"UPDATE otpgate.tokens SET watermark = watermark + 1 WHERE id = '{tok}'", role="otpgate_owner")
    check(pg.psql(f"SELECT watermark FROM otpgate.read_user('{user}')", role="node_a") == [str(wm + 1)],
          "control: the trigger lets a watermark move forward")


def test_triggers(pg):
    o = "otpgate_owner"
    code = pg.psql("SELECT code_id FROM otpgate.unused_codes('alice', 'recovery')", role="node_a")[0]
    pg.psql(f"SELECT * FROM otpgate.consume_code('alice', 'recovery', {code}, NULL, NULL, 0, NULL)", role="node_a")
    pg.psql(f"SELECT otpgate.recovery_codes_replace('alice', 'scrypt:n=16384,r=8,p=1', {hexlit(os.urandom(16))}, "
            f"ARRAY[{hexlit(os.urandom(32))}, {hexlit(os.urandom(32))}], 1000)", role="node_a")
    code = pg.psql("SELECT code_id FROM otpgate.unused_codes('alice', 'recovery')", role="node_a")[0]
    pg.psql(f"SELECT * FROM otpgate.consume_code('alice', 'recovery', {code}, NULL, NULL, 0, NULL)", role="node_a")
    used = pg.psql("SELECT id FROM otpgate.recovery_codes WHERE used_at IS NOT NULL LIMIT 1", role=o)
    unused = pg.psql("SELECT id FROM otpgate.recovery_codes WHERE used_at IS NULL LIMIT 1", role=o)
    check(used and unused, "there are used and unused recovery codes to try")
    expect_error(pg, f"UPDATE otpgate.recovery_codes SET used_at = NULL WHERE id = {used[0]}", o, "OG006",
                 "a used recovery code made unused (trigger)")
    expect_error(pg, f"UPDATE otpgate.recovery_codes SET used_at = now() WHERE id = {used[0]}", o, "OG006",
                 "a used recovery code used again (trigger)")
    expect_error(pg, f"UPDATE otpgate.recovery_codes SET hash = hash WHERE id = {unused[0]}", o, "OG006",
                 "an unused recovery code changed other than by use (trigger)")
    pg.psql(f"UPDATE otpgate.recovery_codes SET used_at = now() WHERE id = {unused[0]}", role=o)
    check(pg.psql(f"SELECT used_at IS NOT NULL FROM otpgate.recovery_codes WHERE id = {unused[0]}", role=o) == ["t"],
          "control: the trigger lets an unused code be used")
    expect_error(pg, "UPDATE otpgate.store_generation SET value = value - 1", o, "OG006", "the generation lowered (trigger)")

    before = pg.psql("SELECT count(*), max(id) FROM otpgate.audit_events", role=o)
    expect_error(pg, "UPDATE otpgate.audit_events SET detail = 'x' WHERE id = (SELECT max(id) FROM otpgate.audit_events)",
                 o, "OG006", "the owner updating an audit row (trigger)")
    expect_error(pg, "DELETE FROM otpgate.audit_events WHERE id = (SELECT max(id) FROM otpgate.audit_events)",
                 o, "OG006", "the owner deleting an audit row (trigger)")
    expect_error(pg, "TRUNCATE otpgate.audit_events", o, "OG006", "the owner truncating the audit log (trigger)")
    expect_error(pg, "DO $$ BEGIN DELETE FROM otpgate.audit_events /* \nPL/pgSQL function otpgate.prune_audit(bigint,integer) line 1 at SQL statement */; END $$",
                 o, "OG006", "a DELETE dressed up as the retention function's (trigger)")
    expect_error(pg, "DELETE FROM otpgate.audit_events", "node_a", "42501", "a node deleting audit rows")
    check(pg.psql("SELECT count(*), max(id) FROM otpgate.audit_events", role=o) == before, "the audit log is as it was")

    # Retention is the one way out, and it is audited.
    pg.psql(None, role="node_a", stdin="".join(
        f"SELECT otpgate.audit_append('test.filler', NULL, NULL, NULL, NULL, 'row {i}');\n" for i in range(1100)))
    total = int(pg.psql("SELECT count(*) FROM otpgate.audit_events", role=o)[0])
    expect_error(pg, "SELECT otpgate.prune_audit(NULL, 10)", "admin_a", "OG001", "retention below 1000 events")
    rows = pg.psql("SELECT otpgate.prune_audit(NULL, 1000)", role="admin_a")
    check(rows == [str(total - 1000)], f"prune_audit deletes all but the newest 1000 ({rows}, of {total})")
    rows = pg.psql("SELECT count(*), (SELECT event FROM otpgate.audit_events ORDER BY id DESC LIMIT 1), "
                   "(SELECT host FROM otpgate.audit_events ORDER BY id DESC LIMIT 1) FROM otpgate.audit_events", role=o)
    check(rows == ["1001|audit.pruned|admin_a"], f"... and audits it, under the admin's role ({rows})")


def test_audit_host(pg):
    o = "otpgate_owner"
    pg.psql("SELECT otpgate.audit_append('test.host', 'alice', 0, NULL, NULL, NULL)", role="node_a")
    pg.psql("SELECT otpgate.audit_append('test.host', 'alice', 0, NULL, NULL, NULL)", role="node_b")
    pg.psql("INSERT INTO otpgate.audit_events (event, host, occurred_at) VALUES ('test.host', 'node_b', '2000-01-01')", role=o)
    rows = pg.psql("SELECT host, occurred_at > now() - interval '1 hour' FROM otpgate.audit_events WHERE event = 'test.host' ORDER BY id", role=o)
    check(rows == ["node_a|t", "node_b|t", "otpgate_owner|t"],
          f"audit rows name the session role and the store's time, whatever the INSERT says ({rows})")
    expect_error(pg, "SET ROLE node_b", "node_a", "42501", "a node taking another node's role")


def test_audit_relay(pg):
    """v004: the relay a node names (p_relay, from the TLS peer certificate) is in
    the row its function audits; the trigger takes it from the overload's setting,
    never from the INSERT; the setting ends with the call; a bad name is refused and
    writes nothing; the v002 signatures audit no relay."""
    o = "otpgate_owner"
    script = "\n".join([
        "SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'via a', 'relay-a.example');",
        "SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'local', NULL);",
        "SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'old signature');",
        # A session that set the name itself: the overload's NULL still wins.
        "SET otpgate.relay = 'relay-forged';",
        "SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'null over a session value', NULL);",
        "RESET otpgate.relay;",
        # In one transaction, after an overload named relay-b: an old-signature call
        # in the same transaction sees no relay (the overload emptied it).
        "BEGIN;",
        "SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'in a transaction', 'relay-b');",
        "SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'after it, old signature');",
        "COMMIT;",
    ]) + "\n"
    pg.psql(None, role="node_a", stdin=script)
    pg.psql("INSERT INTO otpgate.audit_events (event, host, detail, relay) VALUES ('test.relay', 'x', 'insert says', 'relay-x')",
            role=o)
    rows = pg.psql("SELECT detail, coalesce(relay, '-'), host FROM otpgate.audit_events WHERE event = 'test.relay' ORDER BY id",
                   role=o)
    check(rows == ["via a|relay-a.example|node_a", "local|-|node_a", "old signature|-|node_a",
                   "null over a session value|-|node_a", "in a transaction|relay-b|node_a",
                   "after it, old signature|-|node_a", "insert says|-|otpgate_owner"],
          f"each row names the relay its call passed, none for NULL or the v002 signature, whatever a session or an "
          f"INSERT says; host is the session's role ({rows})")
    rows = pg.psql("SELECT relay, event, host FROM otpgate.audit_query('alice', NULL, 10000) WHERE relay IS NOT NULL", role="admin_a")
    check(rows == ["relay-a.example|test.relay|node_a", "relay-b|test.relay|node_a"], f"audit_query returns the relay ({rows})")

    # The verify path: accept_code's overload writes verify.ok with the relay.
    pg.psql("SELECT * FROM otpgate.import_tokens('rory', 'add', " + import_json([token_json("phone")]) +
            ", NULL, NULL, NULL, false, 0)", role="admin_a")
    tok = pg.psql("SELECT token_id FROM otpgate.read_user('rory')", role="node_a")[0]
    rows = pg.psql(f"SELECT otpgate.accept_code('rory', '{tok}', 1, 0, NULL, 'sshd', 0, NULL, 'relay-a')", role="node_b")
    check(rows == ["accepted"], f"accept_code with a relay accepts ({rows})")
    rows = pg.psql("SELECT event, relay, host FROM otpgate.audit_events WHERE user_name = 'rory' AND event = 'verify.ok'", role=o)
    check(rows == ["verify.ok|relay-a|node_b"], f"... and its verify.ok names the relay and the node ({rows})")

    before = dump(pg)
    bad = ["''", "'relay a'", "E'relay\\nb'", "'relay/a'", "'r\u00e9lay'", q("r" * 254)]
    codes = run_script(pg, "node_a", [f"SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, NULL, {b})" for b in bad]
                       + [f"SELECT otpgate.accept_code('rory', '{tok}', 2, 0, NULL, 'sshd', 0, NULL, {bad[1]})"])
    check(codes == ["OG001"] * (len(bad) + 1), f"a relay name that is not a host name is refused with OG001 ({codes})")
    check(dump(pg) == before, "... and changes nothing (the code of counter 2 is still unused)")
    expect_error(pg, "INSERT INTO otpgate.audit_events (event) VALUES ('test.relay')", "node_a", "42501",
                 "a node inserting an audit row directly")
    # v004 also takes a one-word event (the daemon's refusals are audited as forbidden).
    pg.psql("SELECT otpgate.audit_append('forbidden', 'alice', 1000, NULL, NULL, 'status on the public socket', 'relay-a')",
            role="node_a")
    check(pg.psql("SELECT relay FROM otpgate.audit_events WHERE event = 'forbidden'", role=o) == ["relay-a"],
          "a one-word event (forbidden) is audited, with its relay")
    pg.psql(f"SELECT otpgate.audit_append('test.relay', 'alice', 0, NULL, NULL, 'longest', {q('r' * 253)})", role="node_a")
    check(pg.psql("SELECT length(relay) FROM otpgate.audit_events WHERE detail = 'longest'", role=o) == ["253"],
          "control: a 253-byte host name is taken")


# -- bad arguments ------------------------------------------------------------------

LONG_USER = q("u" * 257)
CTRL = "E'a\\001b'"
USERS_BAD = ["NULL", "''", LONG_USER, CTRL, "E'tab\\tuser'", "E'del\\177'"]
RHOST_BAD = [q("h" * 257), CTRL]
SERVICE_BAD = ["''", q("s" * 257), CTRL]
UID_BAD = ["-1", "4294967296"]
TOKEN_BAD = ["NULL", "''", "'ABCDEFGHIJKLMNOP'", "'aaaaaaaaaaaaaaa1'", "'aaaaaaaaaaaaaaaaa'", "'aaaaaaaaaaaaaaa'"]
ENR_BAD = ["NULL", "''", q("a" * 25), q("a" * 27), q("A" * 26)]
DETAIL_BAD = ["''", q("d" * 1025), CTRL]
ATTEMPT_BAD = ["0", "-1", "1000001"]


def bad_secrets():
    return ["NULL", hexlit(sealed(size=9)), hexlit(bytes([2]) + sealed()[1:]), hexlit(sealed(size=1000))]


def hashes_sql(n, size=32):
    return "ARRAY[" + ", ".join(hexlit(os.urandom(size)) for _ in range(n)) + "]"


def import_json(tokens):
    return q(json.dumps(tokens)) + "::jsonb"


def bad_import_tokens():
    def one(**changes):
        t = token_json("imp", kind=changes.pop("kind", "hotp"))
        for k, v in changes.items():
            if v is KeyError:
                del t[k]
            else:
                t[k] = v
        return import_json([t])
    out = ["NULL", "'[]'::jsonb", "'{}'::jsonb", "'\"x\"'::jsonb", import_json([token_json(f"t{i}") for i in range(17)]),
           import_json([token_json("same"), token_json("same")]), import_json([1])]
    out += [one(name=KeyError), one(extra=1), one(digits=9), one(digits="6"), one(digits=6.5), one(period=0),
            one(period=86401), one(kind="sms"), one(algorithm="MD5"), one(id="ABCDEFGHIJKLMNOP"), one(id=None),
            one(name="n" * 65), one(name=""), one(name="a\u0001b"), one(secret="not base64!"),
            one(secret=base64.b64encode(b"\x01short").decode()), one(secret=None), one(initial_counter=-1),
            one(initial_counter="0"), one(watermark=-1), one(window=3), one(skew=2), one(kind="totp", skew=100001),
            one(kind="totp", window=11), one(detail=""), one(detail="d" * 1025), one(detail=5)]
    return out


def bad_argument_table(user, tok, enr, code_id, step):
    S = hexlit(sealed())
    kdf, salt = "'scrypt:n=16384,r=8,p=1'", hexlit(os.urandom(16))
    node, admin = "node_a", "admin_a"
    hashes_bad = ["'{}'::bytea[]", hashes_sql(101), hashes_sql(1, 31), "ARRAY[NULL::bytea]",
                  "ARRAY[[" + hexlit(os.urandom(32)) + "], [" + hexlit(os.urandom(32)) + "]]"]
    u = q(user)
    return {
        "read_user": (node, [u, "'h1'"], {0: USERS_BAD, 1: RHOST_BAD}),
        "reserve_attempt": (node, [u, "'h1'"], {0: USERS_BAD, 1: RHOST_BAD}),
        "accept_code": (node, [u, q(tok), str(step + 5), "0", "NULL", "'sshd'", "0", "'h1'"],
                        {0: USERS_BAD, 1: TOKEN_BAD, 2: ["NULL", "-1", str(step + 1000)], 3: ["NULL", "1000001", "-1000001"],
                         4: ATTEMPT_BAD, 5: SERVICE_BAD, 6: UID_BAD, 7: RHOST_BAD}),
        "unused_codes": (node, [u, "'recovery'"], {0: USERS_BAD, 1: ["NULL", "'sms'", "'Recovery'", "''"]}),
        "consume_code": (node, [u, "'recovery'", str(code_id), "NULL", "'sshd'", "0", "'h1'"],
                         {0: USERS_BAD, 1: ["NULL", "'sms'", "'Scratch'"], 2: ["NULL", "0", "-5"], 3: ATTEMPT_BAD,
                          4: SERVICE_BAD, 5: UID_BAD, 6: RHOST_BAD}),
        "record_failure": (node, [u, "'h1'", "NULL", "'verify.invalid'", "'sshd'", "0", "NULL"],
                           {0: USERS_BAD, 1: RHOST_BAD, 2: ATTEMPT_BAD, 3: ["NULL", "'verify.ok'", "'nonsense'", "''"],
                            4: SERVICE_BAD, 5: UID_BAD, 6: DETAIL_BAD}),
        "record_not_enrolled": (node, [u, "'h1'", "'sshd'", "0"], {0: USERS_BAD, 1: RHOST_BAD, 2: SERVICE_BAD, 3: UID_BAD}),
        "resync_token": (node, [u, q(tok), str(step + 6), "1", "1", "0"],
                         {0: USERS_BAD, 1: TOKEN_BAD, 2: ["NULL", "-1", str(step + 1000)], 3: ["NULL", "100001", "-100001"],
                          4: ["NULL", "1000001"], 5: UID_BAD}),
        "enrollment_begin": (node, [u, q(b32id(26)), "'tablet'", "'totp'", "'SHA1'", "6", "30", "0", S, "600", "0"],
                             {0: USERS_BAD, 1: ENR_BAD, 2: ["NULL", "''", q("n" * 65), CTRL], 3: ["NULL", "'sms'", "'TOTP'"],
                              4: ["NULL", "'MD5'", "'sha1'"], 5: ["NULL", "5", "9"], 6: ["NULL", "0", "86401"],
                              7: ["NULL", "-1"], 8: bad_secrets(), 9: ["NULL", "0", "604801"], 10: UID_BAD}),
        "enrollment_reserve": (node, [u, q(enr)], {0: USERS_BAD, 1: ENR_BAD}),
        "enrollment_confirm": (node, [u, q(enr), q(b32id(16)), S, str(step), "0", "NULL", "NULL", "NULL", "NULL", "0"],
                               {0: USERS_BAD, 1: ENR_BAD, 2: TOKEN_BAD, 3: bad_secrets(), 4: ["NULL", "-1", str(step + 1000)],
                                5: ["NULL", "1000001"], 6: ATTEMPT_BAD, 7: [kdf], 8: [salt], 9: [hashes_sql(1)], 10: UID_BAD,
                                "recovery": [{7: "''", 8: salt, 9: hashes_sql(1)}, {7: kdf, 8: hexlit(os.urandom(15)), 9: hashes_sql(1)}]
                                + [{7: kdf, 8: salt, 9: h} for h in hashes_bad]}),
        "enrollment_cancel": (node, [u, q(enr), "'enroll.cancel'", "0"],
                              {0: USERS_BAD, 1: ENR_BAD, 2: ["NULL", "'enroll.begin'", "'x'"], 3: UID_BAD}),
        "enrollment_purge": (node, ["86400"], {0: ["NULL", "-1", "2592001"]}),
        "pending_enrollments": (node, [u], {0: USERS_BAD}),
        "token_remove": (node, [u, q(tok), "0"], {0: USERS_BAD, 1: TOKEN_BAD, 2: UID_BAD}),
        "recovery_codes_replace": (node, [u, kdf, salt, hashes_sql(2), "0"],
                                   {0: USERS_BAD, 1: ["NULL", "''", q("k" * 65), CTRL],
                                    2: ["NULL", hexlit(os.urandom(15)), hexlit(os.urandom(17))], 3: ["NULL"] + hashes_bad, 4: UID_BAD}),
        "audit_append": (node, ["'test.bad'", u, "0", "'sshd'", "'h1'", "'d'"],
                         {0: ["NULL", "''", "'Upper.case'", "'a.'", "'.a'", "'a..b'", "'9a'", "'forbidden '", q("a." + "b" * 63)], 1: ["''", LONG_USER, CTRL],
                          2: UID_BAD, 3: SERVICE_BAD, 4: RHOST_BAD, 5: DETAIL_BAD}),
        "key_check_init": (node, [S, "0"], {0: bad_secrets(), 1: UID_BAD}),
        "node_report_keys": (node, [f"ARRAY['{KEY}']"],
                             {0: ["NULL", "'{}'::text[]", "ARRAY['XYZ']", "ARRAY['A1B2C3D4']", "ARRAY[NULL::text]",
                                  "ARRAY[" + ", ".join([f"'{KEY}'"] * 17) + "]", f"ARRAY[['{KEY}'], ['{KEY}']]"]}),
        "generation_advance": (node, ["0", "NULL", "NULL", "0"],
                               {0: ["NULL", "-1"], 1: ["'store.bogus'", "''"], 2: ["'detail without an event'"], 3: UID_BAD,
                                "detail": [{1: "'store.rollback_accepted'", 2: d} for d in DETAIL_BAD]}),
        "user_reset": (admin, [u, "0"], {0: USERS_BAD, 1: UID_BAD}),
        "user_unlock": (admin, [u, "0"], {0: USERS_BAD, 1: UID_BAD}),
        "audit_query": (admin, [u, "NULL", "10"], {0: ["''", LONG_USER, CTRL], 1: ["-1", "253402300800"], 2: ["NULL", "0", "10001"]}),
        "import_tokens": (admin, ["'frank'", "'add'", import_json([token_json("imp")]), "NULL", "NULL", "NULL", "false", "0"],
                          {0: USERS_BAD, 1: ["NULL", "'merge'", "''"], 2: bad_import_tokens(), 3: [kdf], 4: [salt],
                           5: [hashes_sql(1)], 6: ["NULL"], 7: UID_BAD,
                           "scratch": [{3: kdf, 4: salt, 5: hashes_sql(21)}, {3: kdf, 4: salt, 5: "'{}'::bytea[]"}]}),
        "set_limiter_policy": (admin, ["3", "10", "2", "900", "100", "0"],
                               {0: ["NULL", "-1", "1001"], 1: ["NULL", "-1", "1001"], 2: ["NULL", "0", "3601"],
                                3: ["NULL", "0", "86401"], 4: ["NULL", "0", "101"], 5: UID_BAD,
                                "order": [{2: "100", 3: "50"}]}),
        "prune_audit": (admin, ["NULL", "100000"],
                        {0: ["100", "-1", "3153600001"], 1: ["999", "-1"], "neither": [{0: "NULL", 1: "NULL"}]}),
        "rekey_begin": (admin, [hexlit(sealed("c0ffee00")), "0"], {0: bad_secrets(), 1: UID_BAD}),
        "rekey_sealed": (admin, [f"'{KEY}'", "10"], {0: ["NULL", f"'{KEY.upper()}'", "'feed'", "''"], 1: ["NULL", "0", "10001"]}),
        "rekey_replace": (admin, ["'token'", q(tok), "'a1b2c3d4'", S],
                          {0: ["NULL", "'user'", "''"], 1: ["NULL", "''", q("a" * 26)], 2: ["NULL", "'XYZ'", f"'{KEY}'"],
                           3: bad_secrets()}),
        "rekey_finish": (admin, ["0"], {0: UID_BAD}),
    }


# Baselines that cannot succeed as they stand, and the refusal they get instead.
BASELINE_REFUSALS = {"rekey_begin": "OG003", "rekey_finish": "OG003"}


def test_bad_arguments(pg):
    user = "eve"
    pg.psql("SELECT * FROM otpgate.import_tokens('eve', 'add', " + import_json([token_json("phone", kind="totp")]) +
            ", NULL, NULL, NULL, false, 0)", role="admin_a")
    tok = pg.psql("SELECT token_id FROM otpgate.read_user('eve')", role="node_a")[0]
    enr = b32id(26)
    pg.psql(f"SELECT * FROM otpgate.enrollment_begin('eve', '{enr}', 'tab', 'totp', 'SHA1', 6, 30, 0, {hexlit(sealed())}, 600, 0)", role="node_a")
    pg.psql(f"SELECT otpgate.recovery_codes_replace('eve', 'scrypt:n=16384,r=8,p=1', {hexlit(os.urandom(16))}, {hashes_sql(3)}, 0)", role="node_a")
    code_id = pg.psql("SELECT code_id FROM otpgate.unused_codes('eve', 'recovery')", role="node_a")[0]
    step = int(pg.psql("SELECT now_s FROM otpgate.health()", role="node_a")[0]) // 30
    table = bad_argument_table(user, tok, enr, int(code_id), step)

    with_args = {name for name in NODE_FUNCTIONS | SHARED_FUNCTIONS | ADMIN_FUNCTIONS
                 if pg.psql(f"SELECT bool_or(pronargs > 0) FROM pg_proc WHERE proname = '{name}' AND pronamespace = 'otpgate'::regnamespace") == ["t"]}
    check(with_args == set(table), f"every function with arguments has bad-argument cases (missing {with_args - set(table)})")

    total = 0
    for name, (role, args, bad) in sorted(table.items()):
        call = lambda a: f"SELECT * FROM otpgate.{name}(" + ", ".join(a) + ")"  # noqa: E731
        # The valid call must pass (in a transaction rolled back), so that each bad one
        # fails for the argument it changes.
        r = subprocess.run(pg.psql_args(role=role), input=f"BEGIN;\n{call(args)};\nROLLBACK;\n", capture_output=True, text=True,
                           env=pg.env())
        want = BASELINE_REFUSALS.get(name)
        got = pg.error(r.stderr).sqlstate if r.returncode != 0 else None
        check(got == want, f"{name}: the valid call {'passes' if want is None else 'gets ' + want} (got {got}: {r.stderr.strip().split(chr(10))[0][:200]})")
        variants = []
        for key, values in bad.items():
            for v in values:
                a = list(args)
                for i, value in (v.items() if isinstance(v, dict) else [(key, v)]):
                    a[i] = value
                variants.append(call(a))
        before = dump(pg)
        codes = run_script(pg, role, variants)
        after = dump(pg)
        total += len(variants)
        ok = codes == ["OG001"] * len(variants)
        if not ok:
            for v in variants:
                rr = pg.psql(v, role=role, check=False)
                code = pg.error(rr.stderr).sqlstate if rr.returncode != 0 else None
                if code != "OG001":
                    print(f"     {code}: {v[:300]}\n     {rr.stderr.strip()[:300]}")
        check(ok, f"{name}: {len(variants)} bad calls each refused with OG001 and a message")
        check(before == after, f"{name}: ... and nothing changed")
    check(total > 300, f"{total} bad calls in all")
    r = pg.psql("SELECT * FROM otpgate.read_user(NULL)", role="node_a", check=False)
    check("a user name has 1 to 256 bytes and no control characters" in r.stderr, "the error says what a good value is")


# -- parallel clients ---------------------------------------------------------------

def worker(argv):
    """--worker SOCKETS PORT ROLE SCRIPT...: one thread per script, each its own psql
    session running the script; prints every session's output lines."""
    sockets, port, role, scripts = argv[0], argv[1], argv[2], argv[3:]
    out = [None] * len(scripts)

    def run(i):
        with open(scripts[i]) as f:
            r = subprocess.run(
                [os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t",
                 "-h", sockets, "-p", port, "-U", role, "-d", "otpgate"], stdin=f, capture_output=True, text=True)
        out[i] = r.stdout + ("".join("ERR " + line + "\n" for line in r.stderr.split("\n") if line.startswith("ERROR")))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(scripts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.stdout.write("".join(out))


def parallel(pg, roles, scripts_per_role, tag):
    """Runs one worker process per role, each with one thread (session) per script
    (the same scripts for every process unless a list per role is given); returns
    the output lines of each role's process."""
    procs = []
    for r_i, role in enumerate(roles):
        scripts = scripts_per_role[r_i] if isinstance(scripts_per_role[0], list) else scripts_per_role
        paths = []
        for i, text in enumerate(scripts):
            path = os.path.join(pg.root, f"{tag}-{role}-{i}.sql")
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)
            paths.append(path)
        procs.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", pg.sockets, str(pg.port), role] + paths,
                                      stdout=subprocess.PIPE, text=True, env=pg.env()))
    outputs = [p.communicate()[0].split("\n") for p in procs]
    return [[line for line in out if line] for out in outputs]


def make_tokens(pg, prefix, users, per_user):
    """users x per_user HOTP tokens (watermark NULL) through import_tokens; returns
    [(user, token id)]."""
    out, script = [], []
    for u in range(users):
        name = f"{prefix}{u:03d}"
        toks = [token_json(f"t{i}") for i in range(per_user)]
        out += [(name, t["id"]) for t in toks]
        script.append(f"SELECT outcome FROM otpgate.import_tokens('{name}', 'add', {import_json(toks)}, NULL, NULL, NULL, false, 0);")
    pg.psql(None, role="admin_a", stdin="\n".join(script))
    return out


def test_accept_cas(pg):
    roles = ["node_a", "node_b", "node_c"]
    threads = 4
    cas = make_tokens(pg, "cas", 40, 5)
    rtw = make_tokens(pg, "rtw", 40, 5)
    check(len(cas) == 200 and len(rtw) == 200, "200 codes for the compare-and-set, 200 for the control")

    # Control: read the watermark, then write it, as two statements (what a
    # read-then-write accept does). Run as the owner (it needs the table).
    script = "".join(
        f"SELECT coalesce(watermark, -1) < 1 AS fresh FROM otpgate.tokens WHERE id = '{t}' \\gset\n"
        f"\\if :fresh\nUPDATE otpgate.tokens SET watermark = 1 WHERE id = '{t}';\n\\echo {t} accepted\n\\else\n\\echo {t} replayed\n\\endif\n"
        for _, t in rtw)
    outs = parallel(pg, ["otpgate_owner"] * 3, [script] * threads, "rtw")
    accepted = {}
    for out in outs:
        for line in out:
            t, outcome = line.split(" ")
            accepted[t] = accepted.get(t, 0) + (outcome == "accepted")
    doubles = sum(1 for n in accepted.values() if n > 1)
    check(doubles > 0, f"control: read-then-write accepts {doubles} of 200 codes more than once (3 processes x {threads} sessions)")

    start = time.monotonic()
    script = "".join(f"SELECT '{t} ' || otpgate.accept_code('{u}', '{t}', 1, 0, NULL, 'sshd', 0, NULL);\n" for u, t in cas)
    outs = parallel(pg, roles, [script] * threads, "cas")
    elapsed = time.monotonic() - start
    accepted, per_role, errors, calls = {}, {}, [], 0
    for role, out in zip(roles, outs):
        for line in out:
            if line.startswith("ERR"):
                errors.append(line)
                continue
            calls += 1
            t, outcome = line.split(" ")
            if outcome == "accepted":
                accepted[t] = accepted.get(t, 0) + 1
                per_role[role] = per_role.get(role, 0) + 1
    check(not errors, f"no errors in {calls} parallel accepts ({errors[:3]})")
    check(calls == 200 * 3 * threads, f"{calls} accepts of 200 codes from 3 processes x {threads} sessions "
          f"({elapsed:.1f} s, load {os.getloadavg()[0]:.1f})")
    check(len(accepted) == 200 and set(accepted.values()) == {1}, f"exactly one accept per code ({len(accepted)} codes accepted, "
          f"{sum(1 for n in accepted.values() if n > 1)} more than once)")
    rows = pg.psql("SELECT host, count(*) FROM otpgate.audit_events WHERE event = 'verify.ok' AND user_name LIKE 'cas%' GROUP BY host ORDER BY host",
                   role="otpgate_owner")
    check(rows == [f"{r}|{per_role[r]}" for r in roles if r in per_role],
          f"one verify.ok audit row per accept, naming the node that accepted it ({rows} vs {per_role})")


def reserve_script(user, rhost, n):
    return ("SELECT admitted, coalesce(attempt, 0) AS attempt FROM otpgate.reserve_attempt('%s', '%s') LIMIT 1 \\gset\n"
            "\\if :admitted\nSELECT 'failed ' || locked_out_now FROM otpgate.record_failure('%s', '%s', :attempt, 'verify.invalid', 'sshd', 0, NULL);\n"
            "\\else\n\\echo refused\n\\endif\n" % (user, rhost, user, rhost)) * n


def test_failures(pg):
    roles = ["node_a", "node_b", "node_c"]
    threads = 4
    a = "admin_a"
    make_tokens(pg, "lim", 4, 1)
    pg.psql("SELECT otpgate.set_limiter_policy(1000, 1000, 2, 900, 100, 0)", role=a)

    # Reserved attempts: counted before evaluation, so at most the cap is evaluated.
    outs = parallel(pg, roles, [[reserve_script("lim000", f"host-{r}", 15)] * threads for r in roles], "reserve")
    lines = [line for out in outs for line in out]
    failed = [line for line in lines if line.startswith("failed")]
    check(len(lines) == 3 * threads * 15 and not [x for x in lines if x.startswith("ERR")], f"{len(lines)} attempts, no errors")
    check(len(failed) == 100, f"exactly the cap of 100 attempts admitted from 3 nodes x {threads} sessions ({len(failed)})")
    check(failed.count("failed true") == 1, f"exactly one failure completes the lockout ({failed.count('failed true')})")
    rows = pg.psql("SELECT failures, locked_out FROM otpgate.read_user('lim000')", role="node_a")
    check(rows == ["100|t"], f"the store counted 100 and the user is locked out ({rows})")
    rows = pg.psql("SELECT event, count(*) FROM otpgate.audit_events WHERE user_name = 'lim000' GROUP BY event ORDER BY event", role="otpgate_owner")
    check(rows == ["token.imported|1", "user.locked_out|1", "verify.invalid|100"], f"100 verify.invalid rows, one user.locked_out ({rows})")
    for r in roles:
        rows = pg.psql("SELECT admitted, locked_out FROM otpgate.reserve_attempt('lim000', 'elsewhere')", role=r)
        check(rows == ["f|t"], f"{r} refuses the locked-out user")
    pg.psql("SELECT otpgate.user_unlock('lim000', 0)", role=a)
    for r in roles:
        rows = pg.psql("SELECT admitted FROM otpgate.reserve_attempt('lim000', 'elsewhere')", role=r)
        check(rows == ["t"], f"after one unlock, {r} admits the user again")

    # Unreserved failures (INSERT ... ON CONFLICT DO UPDATE): every one counted.
    per_session = 80
    script = "SELECT 'n ' || locked_out_now FROM otpgate.record_failure('lim001', 'h', NULL, 'verify.invalid', NULL, 0, NULL);\n" * per_session
    outs = parallel(pg, roles, [script] * threads, "count")
    lines = [line for out in outs for line in out]
    sent = 3 * threads * per_session
    check(len(lines) == sent and lines.count("n true") == 1, f"{sent} failures sent, exactly one completed the lockout ({lines.count('n true')})")
    rows = pg.psql("SELECT failures, host_failures FROM otpgate.read_user('lim001', 'h')", role="node_a")
    check(rows == [f"{sent}|{sent}"], f"{sent} failures counted on both counters ({rows})")
    # Control: read-modify-write of the counter (SELECT, then UPDATE with the value read).
    uid = pg.psql("SELECT id FROM otpgate.users WHERE name = 'lim002'", role="otpgate_owner")[0]
    pg.psql(f"INSERT INTO otpgate.limiter (user_id, rhost, failures, last_failure_at) VALUES ({uid}, '', 0, now())", role="otpgate_owner")
    script = (f"SELECT failures AS f FROM otpgate.limiter WHERE user_id = {uid} AND rhost = '' \\gset\n"
              f"UPDATE otpgate.limiter SET failures = :f + 1 WHERE user_id = {uid} AND rhost = '';\n") * per_session
    parallel(pg, ["otpgate_owner"] * 3, [script] * threads, "rmw")
    counted = int(pg.psql(f"SELECT failures FROM otpgate.limiter WHERE user_id = {uid} AND rhost = ''", role="otpgate_owner")[0])
    check(counted < sent, f"control: read-modify-write counted {counted} of {sent}")

    # The default backoff across nodes: 3 free per host, then a wait; parallel
    # attempts from three hosts get exactly 3 each evaluated.
    pg.psql("SELECT otpgate.set_limiter_policy(3, 10, 600, 900, 100, 0)", role=a)
    outs = parallel(pg, roles, [[reserve_script("lim003", f"host-{r}", 10)] * threads for r in roles], "backoff")
    lines = [line for out in outs for line in out]
    check(len([x for x in lines if x.startswith("failed")]) == 9,
          f"3 free attempts per host from 3 hosts, the rest refused ({len([x for x in lines if x.startswith('failed')])} of {len(lines)} admitted)")
    pg.psql("SELECT otpgate.set_limiter_policy(3, 10, 2, 900, 100, 0)", role=a)


def test_crash(pg):
    """The fixture's SIGKILL and restart, as later multi-daemon tests use them: what
    was acknowledged before the kill is there after crash recovery."""
    u, tok = make_tokens(pg, "crash", 1, 1)[0]
    rows = pg.psql(f"SELECT otpgate.accept_code('{u}', '{tok}', 7, 0, NULL, 'sshd', 0, NULL)", role="node_a")
    check(rows == ["accepted"], "an accept acknowledged before the crash")
    pid = pg.process.pid
    pg.kill()
    r = pg.psql("SELECT 1", role="node_a", check=False)
    check(r.returncode != 0, "after SIGKILL the server refuses connections")
    check(not os.path.exists(f"/proc/{pid}"), "the postmaster is gone")
    pg.restart()
    rows = pg.psql(f"SELECT watermark FROM otpgate.read_user('{u}')", role="node_a")
    check(rows == ["7"], "after crash recovery the acknowledged watermark is there")
    rows = pg.psql(f"SELECT count(*) FROM otpgate.audit_query('{u}', NULL, 10) WHERE event = 'verify.ok'", role="admin_a")
    check(rows == ["1"], "... with its audit row")
    rows = pg.psql(f"SELECT otpgate.accept_code('{u}', '{tok}', 7, 0, NULL, 'sshd', 0, NULL)", role="node_b")
    check(rows == ["replayed"], "... and the code stays used")

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    random.seed()
    with PgCluster() as pg:
        pg.bootstrap()
        pg.create_node_role("node_a")
        pg.create_node_role("node_b")
        pg.create_node_role("node_c")
        pg.create_node_role("admin_a", group="otpgate_admin")
        pg.psql('CREATE ROLE stranger LOGIN', database="postgres")
        pg.psql("GRANT CONNECT ON DATABASE otpgate TO stranger", database="postgres")
        test_migrations(pg)
        test_flow(pg)
        test_privileges(pg)
        test_triggers(pg)
        test_audit_host(pg)
        test_audit_relay(pg)
        test_bad_arguments(pg)
        test_accept_cas(pg)
        test_failures(pg)
        test_crash(pg)
    if FAILURES:
        print(f"\n{len(FAILURES)} checks failed:")
        for f in FAILURES:
            print("  " + f)
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
