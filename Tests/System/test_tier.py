#!/usr/bin/env python3
"""A verifier tier on this machine: one real PostgreSQL (pgfixture), three real
otpgated processes on it, each with its own state directory and database role, and
requests through their real sockets.

    python3 Tests/System/test_tier.py BINDIR      (otpgated built with --traits Fleet)

Checks, each with what would make it fail:
- parallel replays of valid HOTP codes spread over the three daemons: exactly one ok
  per code, and as many verify.ok audit rows as oks, each naming the role of the
  daemon that answered ok;
- wrong codes for one user from the three at once: exactly the lockout cap is
  evaluated (the rest refused before evaluation), one lockout row, a valid code then
  refused on all three, and one unlock on one daemon frees all three;
- local users (root) keep working on their host's own store with PostgreSQL killed,
  while a tier user gets `unavailable` within the deadline (never ok, never a hang),
  and the tier user works again once PostgreSQL is back, without a daemon restart.
"""
import base64, concurrent.futures, hashlib, hmac, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgfixture import PgCluster  # noqa: E402
import tierfixture  # noqa: E402
from tierfixture import check, call, hotp, enrol_hotp, code_of, failures  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug"
DEADLINE_MS = 2000


def Daemon(pg, role, work, key=None, single_node=True):
    return tierfixture.Daemon(pg, role, work, key, single_node, bin=BIN, deadline_ms=DEADLINE_MS)


def main():
    work = tempfile.mkdtemp(prefix="otpgate-tier-")
    os.chmod(work, 0o755)
    pg = PgCluster()
    daemons = []
    try:
        pg.start()
        pg.bootstrap()
        for role in ["node_a", "node_b", "node_c"]:
            pg.create_node_role(role)
        # node_a also administers (unlock through its admin socket).
        pg.psql("GRANT otpgate_admin TO node_a", database="postgres")
        pg.psql("SELECT otpgate.set_limiter_policy(1000, 1000, 1, 2, 100, 0)", role="otpgate_owner")
        first = Daemon(pg, "node_a", work)
        key = os.path.join(first.dir, "s", "master.key")
        daemons = [first] + [Daemon(pg, role, work, key) for role in ["node_b", "node_c"]]
        wrong_key(pg, work)
        a, b, c = daemons
        healths = [call(d.socket, {"v": 1, "op": "health"}) for d in daemons]
        check(all(h.get("store") == "ok" and "single node" in h.get("store_detail", "") for h in healths),
              f"three tier daemons say in health that the store takes writes, and why: {[h.get('store_detail') for h in healths]}")

        writes_refused(pg, work, key)
        replays(pg, daemons)
        lockout(pg, daemons)
        break_glass(pg, daemons)
    finally:
        for d in daemons:
            try:
                d.stop()
            except Exception:
                d.process.kill()
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"test_tier: {'FAILED ' + str(len(failures)) if failures else 'all checks passed'}")
    sys.exit(1 if failures else 0)


def writes_refused(pg, work, key):
    """A node not declared single against a database without a synchronous standby
    refuses writes (an acknowledged code could be lost on failover): health says so,
    and a verify is unavailable, never ok. The three single-node daemons, on the same
    database, are the control: they take writes."""
    os.mkdir(work + "/strict", 0o755)
    d = Daemon(pg, "node_c", work + "/strict", key, single_node=False)
    try:
        h = call(d.socket, {"v": 1, "op": "health"})
        check(h.get("store") == "writes_refused" and "synchronous" in h.get("store_detail", ""),
              f"without a synchronous standby a node not declared single says writes_refused: {h.get('store')} ({h.get('store_detail')})")
        secret = enrol_hotp_expect_refused(d, "dora")
        check(secret, "and refuses an enrolment (unavailable), so nothing is acknowledged")
    finally:
        d.stop()


def enrol_hotp_expect_refused(daemon, user):
    b = call(daemon.admin, {"v": 1, "op": "enroll.begin", "user": user, "kind": "hotp"})
    return b.get("ok") is False and b.get("error") == "unavailable"


def wrong_key(pg, work):
    """A node with another master key refuses to start, naming the key check."""
    os.mkdir(work + "/wrong", 0o755)
    try:
        d = Daemon(pg, "node_c", work + "/wrong")
        d.stop()
        check(False, "a node with another master key refused to start")
    except RuntimeError as e:
        check("key" in str(e) and "node_c sent no READY=1" in str(e), "a node with another master key refuses to start (key check)")


def replays(pg, daemons, users=300, copies=36):
    """One valid code per user sent `copies` times at once, spread over the three
    daemons; many users, because every replay counts as a failure of its user (as on
    one host), and one user would be locked out after 100."""
    secrets = {f"u{n:03d}": enrol_hotp(daemons[n % 3], f"u{n:03d}") for n in range(users)}
    oks = {}
    others = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=copies) as pool:
        for user, secret in secrets.items():
            code = hotp(secret, 1)
            replies = list(pool.map(lambda i: (i % 3, code_of(daemons[i % 3].verify(user, code))), range(copies)))
            oks[user] = [i for i, r in replies if r == "ok"]
            others |= {r for _, r in replies if r != "ok"}
    sent = users * copies
    per_code = {k: len(v) for k, v in oks.items()}
    check(others <= {"replayed_code"}, f"the other replies are all replayed_code: {others}")
    check(all(n == 1 for n in per_code.values()),
          f"{sent} parallel verifies of {users} codes over 3 daemons: exactly one ok per code "
          f"(codes with none: {sum(1 for n in per_code.values() if n == 0)}, with several: {sum(1 for n in per_code.values() if n > 1)})")
    rows = pg.psql("SELECT host, count(*) FROM otpgate.audit_events WHERE user_name LIKE 'u%' AND event = 'verify.ok' GROUP BY host ORDER BY host")
    by_host = {r.split("|")[0]: int(r.split("|")[1]) for r in rows}
    expected = {}
    for winners in oks.values():
        for i in winners:
            expected[daemons[i].role] = expected.get(daemons[i].role, 0) + 1
    check(by_host == expected, f"verify.ok audit rows per node role equal the oks each daemon gave: {by_host} vs {expected}")


def lockout(pg, daemons, attempts=240, cap=100):
    """Wrong codes from all three at once: the cap is exact and the lockout shared."""
    secret = enrol_hotp(daemons[1], "bob")
    with concurrent.futures.ThreadPoolExecutor(max_workers=attempts) as pool:
        replies = list(pool.map(lambda i: code_of(daemons[i % 3].verify("bob", "%06d" % (i * 7919 % 1000000))), range(attempts)))
    evaluated = replies.count("invalid_code")
    check(evaluated == cap and replies.count("rate_limited") == attempts - cap,
          f"{attempts} wrong codes from 3 daemons at once: exactly {cap} evaluated, the rest refused "
          f"(got {evaluated} invalid, {replies.count('rate_limited')} rate_limited, others {set(replies) - {'invalid_code', 'rate_limited'}})")
    lock_rows = pg.psql("SELECT count(*) FROM otpgate.audit_events WHERE user_name = 'bob' AND event = 'user.locked_out'")
    check(lock_rows == ["1"], f"exactly one lockout row (got {lock_rows})")
    good = [code_of(d.verify("bob", hotp(secret, k + 1))) for k, d in enumerate(daemons)]
    check(good == ["rate_limited"] * 3, f"a valid code is refused on all three while locked out: {good}")
    unlock = call(daemons[0].admin, {"v": 1, "op": "admin.unlock", "user": "bob"})
    check(unlock.get("ok") is True, f"one unlock through node_a's admin socket: {unlock}")
    after = [code_of(d.verify("bob", hotp(secret, k + 5))) for k, d in enumerate(daemons)]
    check(after == ["ok"] * 3, f"after one unlock a valid code works on all three: {after}")


def break_glass(pg, daemons):
    """root is local: its factor lives in the host's SQLite store."""
    a = daemons[0]
    root_secret = enrol_hotp(a, "root")
    carol = enrol_hotp(a, "carol")
    rows = pg.psql("SELECT count(*) FROM otpgate.users WHERE name = 'root'")
    check(rows == ["0"], f"root's enrolment did not reach the shared database (users named root: {rows})")
    pg.kill()
    try:
        check(code_of(a.verify("root", hotp(root_secret, 1))) == "ok", "PostgreSQL killed: root (local) still logs in")
        start = time.monotonic()
        reply = code_of(a.verify("carol", hotp(carol, 1)))
        took = time.monotonic() - start
        check(reply == "unavailable" and took < DEADLINE_MS / 1000 + 1.0,
              f"PostgreSQL killed: a tier user gets unavailable within the deadline ({reply} after {took:.2f} s)")
    finally:
        pg.restart()
    reply = code_of(a.verify("carol", hotp(carol, 2)))
    check(reply == "ok", f"PostgreSQL back: the tier user logs in again without a daemon restart ({reply})")


if __name__ == "__main__":
    main()
