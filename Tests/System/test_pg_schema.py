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
from pgfixture import PgCluster, PgError, SQL_DIR, migration_files  # noqa: E402

FAILURES = []
KEY = "a1b2c3d4"
OTHER_KEY = "0badc0de"


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def sealed(key=KEY, size=20):
    """A value shaped like the daemon's sealed secret (version 1, key id, nonce,
    ciphertext, tag); the database never opens it."""
    return bytes([1]) + bytes.fromhex(key) + os.urandom(12 + size + 16)


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
        [os.path.join(os.path.dirname(pg.psql_args()[0]), "pg_dump"), "-h", pg.sockets, "-p", str(pg.port), "-U",
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


def token_json(name, tid=None, kind="hotp", watermark=None, key=KEY):
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


def main():
    random.seed()
    with PgCluster() as pg:
        pg.bootstrap()
        pg.create_node_role("node_a")
        pg.create_node_role("node_b")
        pg.create_node_role("admin_a", group="otpgate_admin")
        pg.psql('CREATE ROLE stranger LOGIN', database="postgres")
        pg.psql("GRANT CONNECT ON DATABASE otpgate TO stranger", database="postgres")
        test_migrations(pg)
        test_flow(pg)
    if FAILURES:
        print(f"\n{len(FAILURES)} checks failed:")
        for f in FAILURES:
            print("  " + f)
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
