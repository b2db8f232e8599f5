#!/usr/bin/env python3
"""A verifier tier on this machine: one real PostgreSQL (pgfixture), three real
otpgated processes on it, each with its own state directory and database role, and
requests through their real sockets.

    python3 Tests/System/test_tier.py BINDIR      (otpgated built with --traits Fleet)

Checks, each with what would make it fail:
- the schema applied by `otpgated --migrate-store otpgate_owner`, refused (runner and
  node) on a database newer than the binary;
- parallel replays of valid HOTP codes spread over the three daemons: exactly one ok
  per code, and as many verify.ok audit rows as oks, each naming the role of the
  daemon that answered ok;
- wrong codes for one user from the three at once: exactly the lockout cap is
  evaluated (the rest refused before evaluation), one lockout row, a valid code then
  refused on all three, and one unlock on one daemon frees all three;
- local users (root) keep working on their host's own store with PostgreSQL killed,
  while a tier user gets `unavailable` within the deadline (never ok, never a hang),
  and the tier user works again once PostgreSQL is back, without a daemon restart;
- one node in a network namespace of its own, link cut: unavailable within the
  deadline while the others answer ok (control), ok again after healing;
- a synchronous standby that never answers: unavailable within the deadline (control:
  psql cancelling the wait is told its commit succeeded);
- PostgreSQL SIGKILLed under load: only ok before, only unavailable during, no reply
  past the deadline plus a margin, recovery without a daemon restart, no acknowledged
  ok lost (control: synchronous_commit turned off loses some).

TIER_ONLY=partition|standby|crash runs the setup and that part only (none: setup).
About 4-6 minutes on a loaded 2-core machine.
"""
import atexit, concurrent.futures, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgfixture import PgCluster, migration_files  # noqa: E402
import tierfixture  # noqa: E402
from tierfixture import check, call, hotp, enrol_hotp, code_of, failures  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug"
DEADLINE_MS = 2000


def Daemon(pg, role, work, key=None, single_node=True, link=None, netns=None):
    """A node of this test's tier: otpgated from BIN with the store deadline DEADLINE_MS."""
    return tierfixture.Daemon(pg, role, work, key, single_node, bin=BIN, deadline_ms=DEADLINE_MS, link=link, netns=netns)


def main():
    work = tempfile.mkdtemp(prefix="otpgate-tier-")
    os.chmod(work, 0o755)
    netns = Netns()
    certs = os.path.join(work, "certs")
    os.mkdir(certs, 0o755)
    pg = PgCluster(settings={"listen_addresses": f"127.0.0.1,{netns.host_ip}", "ssl": "on",
                             "ssl_cert_file": f"{certs}/server.crt", "ssl_key_file": f"{certs}/server.key"},
                   hba=[f"hostssl otpgate node_p {netns.ns_ip}/32 scram-sha-256"])
    clusters = [pg]
    daemons = []
    try:
        netns.create()
        make_certificates(certs, (pg.uid, pg.gid))
        pg.start()
        pg.bootstrap(migrate=False)
        for role in ["node_a", "node_b", "node_c"]:
            pg.create_node_role(role)
        migrate_store(pg, work)
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

        # The node's [limiter] is the default (3/10/2/900/100); the tier's 1000/1000/1/2/100.
        doctor_tier(pg, a, expect_policy_warning=True)
        only = os.environ.get("TIER_ONLY", "")
        if not only:
            writes_refused(pg, work, key)
            replays(pg, daemons)
            lockout(pg, daemons)
            break_glass(pg, daemons)
        # From here the tier's default policy (3 free per host, 10 per user): an outage
        # must not leave users waiting or locked out.
        pg.psql("SELECT otpgate.set_limiter_policy(3, 10, 2, 900, 100, 0)", role="otpgate_owner")
        doctor_tier(pg, a, expect_policy_warning=False)
        if not only or "partition" in only:
            partition(pg, daemons, netns, certs, key, work)
        if not only or "standby" in only:
            standby_never_answers(pg, daemons)
        if not only or "crash" in only:
            control = PgCluster(settings={"synchronous_commit": None, "wal_writer_delay": "10s"})
            clusters.append(control)
            control.start()
            control.bootstrap()
            for role in ["node_a", "node_b", "node_c"]:
                control.create_node_role(role)
            os.mkdir(work + "/control", 0o755)
            control_daemons = [Daemon(control, role, work + "/control", key) for role in ["node_a", "node_b", "node_c"]]
            daemons += control_daemons
            crash_under_load(pg, daemons[:3], control, control_daemons)
    finally:
        for d in daemons:
            try:
                d.stop()
            except Exception:
                d.process.kill()
        for cluster in clusters:
            cluster.cleanup()
        netns.remove()
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
        down = [f for f in doctor(a) if "cannot be reached" in f["what"]]
        check(down and down[0]["level"] == "fail", f"doctor with PostgreSQL killed: the tier database cannot be reached (FAIL): {down}")
    finally:
        pg.restart()
    reply = code_of(a.verify("carol", hotp(carol, 2)))
    check(reply == "ok", f"PostgreSQL back: the tier user logs in again without a daemon restart ({reply})")


def timed(daemon, user, code, rhost="10.0.0.1"):
    """(reply code, seconds) of one verify; 'hang' if no reply within 15 s."""
    start = time.monotonic()
    try:
        reply = code_of(daemon.verify(user, code, rhost))
    except (socket.timeout, OSError, ValueError) as e:
        reply = f"hang ({type(e).__name__})"
    return reply, time.monotonic() - start


def token_watermarks(pg, prefix):
    rows = pg.psql(f"SELECT u.name, coalesce(t.watermark, -1) FROM otpgate.tokens t JOIN otpgate.users u ON u.id = t.user_id "
                   f"WHERE u.name LIKE '{prefix}%'")
    return {r.split("|")[0]: int(r.split("|")[1]) for r in rows}


def ok_rows(pg, prefix):
    rows = pg.psql(f"SELECT user_name, count(*) FROM otpgate.audit_events WHERE event = 'verify.ok' AND user_name LIKE '{prefix}%' "
                   "GROUP BY user_name")
    return {r.split("|")[0]: int(r.split("|")[1]) for r in rows}


class Load:
    """`callers` verifiers, each a user typing its next HOTP code, spread over the
    daemons: after ok the next code; after unavailable the same code again (the user
    retries); after replayed_code (an unheard accept that had committed) the next one.
    Every reply is kept with its send and receive times."""

    def __init__(self, daemons, prefix, callers=24):
        self.daemons = daemons
        self.users = [f"{prefix}{n:02d}" for n in range(callers)]
        self.secrets = {u: enrol_hotp(daemons[n % len(daemons)], u) for n, u in enumerate(self.users)}
        self.acked = {u: [] for u in self.users}      # counters acknowledged ok
        self.replies = []                             # (sent, received, user, counter, reply)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.oks = 0
        self.enough = threading.Event()
        self.want = 0
        self.after = None                             # monotonic time from which oks are watched per user
        self.ok_after = set()
        self.all_ok_after = threading.Event()
        self.cond = threading.Condition(self.lock)
        self.paused = False
        self.parked = 0
        self.threads = [threading.Thread(target=self.run, args=(n, u), daemon=True) for n, u in enumerate(self.users)]

    def start(self):
        for t in self.threads:
            t.start()

    def wait_oks(self, n, timeout=60):
        with self.lock:
            self.want = self.oks + n
            self.enough.clear()
            if self.oks >= self.want:
                self.enough.set()
        return self.enough.wait(timeout)

    def watch_from(self, t):
        with self.lock:
            self.after = t
            self.ok_after = set()
            self.all_ok_after.clear()

    def run(self, n, user):
        counter, i = 1, n
        while not self.stopping.is_set():
            with self.cond:
                while self.paused and not self.stopping.is_set():
                    self.parked += 1
                    self.cond.notify_all()
                    self.cond.wait()
                    self.parked -= 1
            d = self.daemons[i % len(self.daemons)]
            i += 1
            sent = time.monotonic()
            reply, took = timed(d, user, hotp(self.secrets[user], counter))
            received = sent + took
            with self.lock:
                self.replies.append((sent, received, user, counter, reply))
                if reply == "ok":
                    self.acked[user].append(counter)
                    self.oks += 1
                    if self.want and self.oks >= self.want:
                        self.enough.set()
                    if self.after is not None and sent >= self.after:
                        self.ok_after.add(user)
                        if len(self.ok_after) == len(self.users):
                            self.all_ok_after.set()
            if reply in ("ok", "replayed_code"):
                counter += 1
            elif reply != "ok":
                time.sleep(0.02)  # a user's retry, not a wait for an event

    def pause(self, timeout=30):
        """Returns once every caller has finished its request and waits."""
        with self.cond:
            self.paused = True
            return self.cond.wait_for(lambda: self.parked == len(self.threads), timeout)

    def resume(self):
        with self.cond:
            self.paused = False
            self.cond.notify_all()

    def stop(self):
        with self.cond:
            self.stopping.set()
            self.cond.notify_all()
        for t in self.threads:
            t.join(timeout=30)


def kill_under_load(pg, daemons, prefix, lossy=False):
    """SIGKILL of the whole server (postmaster and backends) while 24 verifiers run on
    three daemons; the load runs on through the outage, then waits while the server
    restarts, so that what the database kept is read before any new code could cover
    a lost one; then each caller's last acknowledged code is sent again (the first
    requests after the restart) and the load resumes. Returns what happened."""
    load = Load(daemons, prefix)
    load.start()
    try:
        if not load.wait_oks(150):
            raise RuntimeError(f"{prefix}: the load did not get going: {load.replies[-5:]}")
        if lossy:
            # Now that every pooled connection has passed the daemon's settings check
            # (synchronous_commit on), the server turns it off underneath them.
            pg.psql("ALTER SYSTEM SET synchronous_commit = off", database="postgres")
            pg.psql("SELECT pg_reload_conf()", database="postgres")
            load.wait_oks(100)
            # An asynchronous commit is written out by the WAL writer (and, ahead of a
            # dirty page, by the background writer) shortly after; a SIGKILL loses only
            # what no process wrote yet, which on a quiet machine can be nothing. So the
            # two are stopped (SIGSTOP; the SIGKILL below still ends them): what is
            # acknowledged from here on lives only in the server's WAL buffers.
            stopped = [int(pid) for pid in pg.psql(
                "SELECT pid FROM pg_stat_activity WHERE backend_type IN ('walwriter', 'background writer')",
                database="postgres")]
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            # About 4 oks per caller (24 callers): few enough that a lost code stays
            # within HOTP's look-ahead of 10 past what the database kept, so resending
            # it can be accepted; with 300 (12 per caller) every lost code lay beyond
            # it and came back invalid_code in a fresh-clone run.
            load.wait_oks(100)
        t_kill = time.monotonic()
        pg.kill()
        if lossy:
            # Stopped, they cannot see the postmaster die and would keep the shared
            # memory attached, refusing the restart.
            for pid in stopped:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(3)  # the outage: the load runs on against a dead server
        paused = load.pause()
        t_paused = time.monotonic()
        with load.lock:
            acked = {u: list(c) for u, c in load.acked.items()}  # what was acknowledged before the restart
        if lossy:
            # Durable again after the restart (the file would turn it off again).
            auto = os.path.join(pg.data, "postgresql.auto.conf")
            with open(auto) as f:
                kept = [line for line in f if not line.startswith("synchronous_commit")]
            with open(auto, "w") as f:
                f.writelines(kept)
        t_restart = time.monotonic()
        pg.start()
        t_ready = time.monotonic()
        marks = token_watermarks(pg, prefix)
        rows = ok_rows(pg, prefix)
        # Each caller's last acknowledged code again, through a daemon (retried while
        # the pools heal): replayed_code if the accept survived, ok if it was lost.
        again, first_reply = {}, {}
        for n, (u, codes) in enumerate(acked.items()):
            if not codes:
                continue
            d = daemons[n % len(daemons)]
            end = time.monotonic() + 20
            while True:
                reply, took = timed(d, u, hotp(load.secrets[u], max(codes)))
                first_reply.setdefault(d.role, (reply, time.monotonic() - t_ready))
                if reply != "unavailable" or time.monotonic() > end:
                    break
                time.sleep(0.05)  # retry while the pool heals
            again[u] = reply
        t_resume = time.monotonic()
        load.watch_from(t_resume)
        load.resume()
        recovered = load.all_ok_after.wait(30)
        t_recovered = time.monotonic()
    finally:
        load.stop()
    return dict(load=load, acked=acked, t_kill=t_kill, t_paused=t_paused, paused=paused, t_restart=t_restart, t_ready=t_ready,
                marks=marks, rows=rows, again=again, first_reply=first_reply, t_resume=t_resume, recovered=recovered,
                t_recovered=t_recovered)


def crash_under_load(pg, daemons, control_pg, control_daemons):
    """PostgreSQL SIGKILLed under load: before the kill only ok; between the kill and
    the restart only unavailable; no reply later than the deadline plus a margin;
    recovery without a daemon restart; and no acknowledged ok lost: the database's
    watermark covers every acknowledged code, each user's last acknowledged code is
    refused as replayed through a daemon, and there are as many verify.ok rows as oks.
    Control, on a cluster of its own: the same with synchronous_commit turned off
    under the daemons must lose at least one acknowledged ok (accepted again)."""
    margin = 1.0
    r = kill_under_load(pg, daemons, "k")
    load = r["load"]
    replies = load.replies
    before = [x for x in replies if x[1] < r["t_kill"]]
    during = [x for x in replies if x[0] > r["t_kill"] and x[1] < r["t_paused"]]
    after = [x for x in replies if x[0] >= r["t_resume"]]
    kinds = lambda xs: sorted({x[4] for x in xs})
    slowest = max(x[1] - x[0] for x in replies)
    oks = sum(len(c) for c in load.acked.values())
    print(f"     {len(replies)} replies ({oks} ok): {len(before)} before the kill {kinds(before)}, {len(during)} during {kinds(during)}, "
          f"{len(after)} after the restart {kinds(after)}; slowest {slowest:.2f} s; restart {r['t_ready'] - r['t_restart']:.2f} s; "
          f"first reply per daemon after it {r['first_reply']}; every caller ok {r['t_recovered'] - r['t_resume']:.2f} s after resuming",
          flush=True)
    check(kinds(before) == ["ok"], f"before the kill only ok: {kinds(before)}")
    check(len(during) > 0 and kinds(during) == ["unavailable"],
          f"between the kill and the restart only unavailable ({len(during)} replies): {kinds(during)}")
    check(slowest <= DEADLINE_MS / 1000 + margin,
          f"no reply later than the deadline ({DEADLINE_MS} ms) plus {margin} s: slowest {slowest:.2f} s")
    check(r["paused"], "every caller finished its request before the restart")
    check(r["recovered"], f"after the restart every one of the {len(load.users)} callers gets ok again, no daemon restarted "
          f"({r['t_recovered'] - r['t_resume']:.2f} s)")
    odd = [x for x in after if x[4] not in ("ok", "unavailable", "replayed_code")]
    check(not odd, f"after the restart nothing but ok, unavailable and replayed_code (an unheard accept that had committed): {odd[:5]}")
    check(all(d.process.poll() is None for d in daemons), "the three daemons still run")
    acked = r["acked"]
    lost = {u: (max(c), r["marks"].get(u)) for u, c in acked.items() if c and r["marks"].get(u, -1) < max(c)}
    check(not lost, f"every ok acknowledged before the restart ({sum(len(c) for c in acked.values())}) is covered by the watermark the database kept: not covered {lost}")
    short = {u: (len(c), r["rows"].get(u, 0)) for u, c in acked.items() if r["rows"].get(u, 0) < len(c)}
    check(not short, f"as many verify.ok audit rows as acknowledged oks, or more (unheard accepts): {short}")
    check(set(r["again"].values()) == {"replayed_code"},
          f"each caller's last acknowledged code, sent again after the restart, is refused as replayed: {sorted(set(r['again'].values()))}")

    c = kill_under_load(control_pg, control_daemons, "q", lossy=True)
    cl = c["load"]
    lost = {u: (max(x), c["marks"].get(u)) for u, x in c["acked"].items() if x and c["marks"].get(u, -1) < max(x)}
    print(f"     control: {sum(len(x) for x in c['acked'].values())} oks, {len(lost)} callers' last acknowledged code lost "
          f"(acknowledged, kept): {dict(list(lost.items())[:6])}; sent again: {sorted(c['again'].values())}", flush=True)
    check(len(lost) > 0 and "ok" in c["again"].values(),
          f"control: with synchronous_commit turned off under the daemons the same crash loses acknowledged oks, and a lost "
          f"code is accepted a second time ({len(lost)} lost; sent again: {sorted(set(c['again'].values()))})")

class Netns:
    """A network namespace `tier-...` joined to the host by a veth pair with private
    addresses; `cut` downs the host's end (packets are then dropped silently: the
    namespace keeps its route, nothing answers, as in a partition)."""

    def __init__(self):
        n = os.getpid() % 100000
        self.name = f"tier-cut-{n}"
        self.host_if, self.ns_if = f"tierh{n}", f"tiern{n}"
        octet = 100 + os.getpid() % 100
        self.host_ip, self.ns_ip = f"10.251.{octet}.1", f"10.251.{octet}.2"
        self.made = False

    def ip(self, *args, ns=False):
        subprocess.run((["ip", "netns", "exec", self.name] if ns else []) + ["ip"] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def create(self):
        self.made = True
        atexit.register(self.remove)
        self.ip("netns", "add", self.name)
        self.ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self.ip("link", "set", self.ns_if, "netns", self.name)
        self.ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self.ip("link", "set", self.host_if, "up")
        self.ip("addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if, ns=True)
        self.ip("link", "set", self.ns_if, "up", ns=True)
        self.ip("link", "set", "lo", "up", ns=True)
        return self

    def cut(self):
        self.ip("link", "set", self.host_if, "down")

    def heal(self):
        self.ip("link", "set", self.host_if, "up")

    def remove(self):
        if not self.made:
            return
        self.made = False
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "link", "del", self.host_if], stderr=subprocess.DEVNULL)


def make_certificates(d, owner):
    """A CA and a certificate for db.test (the name the cut-off node asks for)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2",
        "-subj", "/CN=otpgate tier test ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj", "/CN=db.test")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=DNS:db.test\n")
    run("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key", "-CAcreateserial",
        "-out", f"{d}/server.crt", "-days", "2", "-extfile", f"{d}/san.ext")
    os.chmod(f"{d}/server.key", 0o600)
    os.chown(f"{d}/server.key", *owner)


def partition(pg, daemons, netns, certs, key, work, seconds=10):
    """One node in a network namespace of its own, on TCP with TLS verify-full to the
    server's address on the veth; the link cut for `seconds`: that node answers
    unavailable within the deadline, the others (control) keep answering ok, and
    after the link is back the node answers ok again without a restart, and its
    user is neither waiting nor locked out."""
    margin = 1.0
    pg.create_node_role("node_p", password="partition secret")
    os.mkdir(work + "/part", 0o755)
    os.mkdir(work + "/part-pw", 0o700)
    with open(work + "/part-pw/pw", "w") as f:
        f.write("partition secret\n")
    os.chmod(work + "/part-pw/pw", 0o600)
    link = {"host": netns.host_ip, "port": pg.port, "password_file": work + "/part-pw/pw", "ca_file": certs + "/ca.pem",
            "server_name": "db.test"}
    p = Daemon(pg, "node_p", work + "/part", key, link=link, netns=netns.name)
    daemons.append(p)
    users = {"pat": enrol_hotp(daemons[0], "pat"), "pbo": enrol_hotp(daemons[1], "pbo"), "pcy": enrol_hotp(daemons[2], "pcy")}
    check(timed(p, "pat", hotp(users["pat"], 1))[0] == "ok", "the node in its own namespace verifies over TLS")
    results = {"pat": [], "pbo": [], "pcy": []}
    counters = {"pat": 2, "pbo": 1, "pcy": 1}
    stop = threading.Event()

    def user_loop(user, d):
        while not stop.is_set():
            t0 = time.monotonic()
            reply, took = timed(d, user, hotp(users[user], counters[user]))
            results[user].append((t0, took, reply))
            if reply in ("ok", "replayed_code"):
                counters[user] += 1
            time.sleep(0.1)  # a user's pace

    netns.cut()
    t_cut = time.monotonic()
    threads = [threading.Thread(target=user_loop, args=a, daemon=True) for a in [("pat", p), ("pbo", daemons[1]), ("pcy", daemons[2])]]
    for t in threads:
        t.start()
    time.sleep(seconds)  # the length of the cut
    stop.set()
    for t in threads:
        t.join(timeout=30)
    netns.heal()
    t_heal = time.monotonic()
    cut_replies = sorted({r for _, _, r in results["pat"]})
    slowest = max(took for _, took, _ in results["pat"])
    check(results["pat"] and cut_replies == ["unavailable"] and slowest <= DEADLINE_MS / 1000 + margin,
          f"link cut {seconds} s: the cut-off node answers only unavailable ({len(results['pat'])} replies: {cut_replies}), "
          f"each within the deadline plus {margin} s (slowest {slowest:.2f} s)")
    others = [r for u in ("pbo", "pcy") for _, _, r in results[u]]
    check(others and set(others) == {"ok"}, f"control: the other two nodes answer ok meanwhile ({len(others)} replies: {sorted(set(others))})")
    # What the node sent during the cut and gave up on must not run once the link is
    # back (TCP retransmits a closed socket's unsent data): a reservation then would
    # count an attempt no one evaluated. Watched before anything else is sent.
    end, late = time.monotonic() + 6, []
    while time.monotonic() < end and not late:
        late = pg.psql("SELECT l.rhost || ':' || l.failures FROM otpgate.limiter l JOIN otpgate.users u ON u.id = l.user_id "
                       "WHERE u.name = 'pat'")
        time.sleep(0.25)  # nothing tells when a retransmission arrives
    check(not late, f"nothing the cut-off node gave up on ran after the link came back (limiter rows of its user: {late})")
    t_try = time.monotonic()
    after = []
    while time.monotonic() - t_try < 20:
        reply, took = timed(p, "pat", hotp(users["pat"], counters["pat"]))
        after.append(reply)
        if reply == "ok":
            break
        if reply == "replayed_code":
            counters["pat"] += 1
        time.sleep(0.1)
    check(after and after[-1] == "ok",
          f"after the link is back the node answers ok again without a restart ({time.monotonic() - t_try:.2f} s after the "
          f"first try, {t_try - t_heal:.1f} s after healing; replies {after})")
    check(p.process.poll() is None, "the node still runs")


def standby_never_answers(pg, daemons):
    """synchronous_standby_names names a standby that never connects: a verify is
    answered unavailable within the deadline, never ok, while its commit waits in the
    server (SyncRep). Control: a client that cancels that wait, as a statement timeout
    or pg_cancel_backend would, is told the commit succeeded. After the setting is
    cleared the node's code is still usable: a verify's first write is the reservation
    (reserve_attempt), whose commit waited, so the code was never evaluated and no
    accept sent; the control's code is refused as replayed (its accept committed)."""
    margin = 1.0
    a = daemons[0]
    secret = enrol_hotp(a, "sam")
    sue = enrol_hotp(a, "sue")
    token = pg.psql("SELECT t.id FROM otpgate.tokens t JOIN otpgate.users u ON u.id = t.user_id WHERE u.name = 'sue'")[0]
    pg.psql("ALTER SYSTEM SET synchronous_standby_names = 'tier_ghost'", database="postgres")
    pg.psql("SELECT pg_reload_conf()", database="postgres")
    try:
        reply, took = timed(a, "sam", hotp(secret, 1))
        check(reply == "unavailable" and took <= DEADLINE_MS / 1000 + margin,
              f"a synchronous standby that never answers: the verify is unavailable within the deadline plus {margin} s "
              f"({reply} after {took:.2f} s)")
        waiting = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'node_a' AND wait_event = 'SyncRep'")
        check(waiting == ["1"], f"its commit is still waiting for the standby in the server, the node gave up on it (SyncRep backends: {waiting})")
        # Control: an accept from psql, cancelled while its commit waits.
        args = pg.psql_args(role="node_a")
        args[args.index("-d") + 1] = "dbname=otpgate application_name=tier_cancel"
        psql = subprocess.Popen(
            args + ["-c", f"SELECT otpgate.accept_code('sue', '{token}', 1, 0, NULL, 'sshd', 0, NULL)"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pg.env())
        end = time.monotonic() + 20
        while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tier_cancel' AND wait_event = 'SyncRep'") != ["1"]:
            if time.monotonic() > end or psql.poll() is not None:
                break
            time.sleep(0.05)  # nothing tells when a backend starts waiting
        pg.psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'tier_cancel'")
        out, err = psql.communicate(timeout=30)
        check(psql.returncode == 0 and out.strip() == "accepted" and "committed locally" in err,
              f"control: cancelling the wait reports the accept as successful (exit {psql.returncode}, {out.strip()!r}, "
              f"{' '.join(err.split())[:160]!r})")
    finally:
        pg.psql("ALTER SYSTEM RESET synchronous_standby_names", database="postgres")
        pg.psql("SELECT pg_reload_conf()", database="postgres")
    end = time.monotonic() + 20
    while pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'") != ["0"] and time.monotonic() < end:
        time.sleep(0.05)  # the reload reaches the waiting backends in their own time
    sam_after = code_of(a.verify("sam", hotp(secret, 1)))
    sue_after = [code_of(a.verify("sue", hotp(sue, c))) for c in (1, 2)]
    check(sam_after == "ok", f"setting cleared: the code the node answered unavailable for was never evaluated and is still usable ({sam_after})")
    check(sue_after == ["replayed_code", "ok"],
          f"setting cleared: the control's code, reported accepted, is refused as replayed; the next is ok ({sue_after})")

def migrate_store(pg, work):
    """The schema applied by `otpgated --migrate-store otpgate_owner` (the runner's
    protocol, docs/POSTGRES.md): v001-v004 recorded by the files themselves as the
    owner; a second run changes nothing; a database that records a migration this
    build does not know is refused by the runner before any change, and a node
    refuses to start on it."""
    d = os.path.join(work, "migrate")
    os.mkdir(d, 0o755)
    config = os.path.join(d, "otpgated.toml")
    with open(config, "w") as f:
        f.write(f'[store]\nbackend = "postgres"\n[store.postgres]\nhost = "{pg.sockets}"\nport = {pg.port}\n'
                f'database = "otpgate"\nuser = "node_a"\ntls = "disable"\nsingle_node = true\n')

    def run():
        return subprocess.run([os.path.join(BIN, "otpgated"), "--config", config, "--state-dir", os.path.join(d, "s"),
                               "--migrate-store", "otpgate_owner"], capture_output=True, text=True, timeout=120)
    first = run()
    rows = pg.psql("SELECT name || ':' || applied_by FROM otpgate.schema_migrations ORDER BY version")
    check(first.returncode == 0 and rows == [f"{n}:otpgate_owner" for _, n, _ in migration_files()],
          f"otpgated --migrate-store applies the schema as otpgate_owner, each file recording itself: {rows} "
          f"({first.stdout.strip()} {first.stderr.strip()[-300:]})")
    check(pg.psql("SELECT to_regclass('public.otpgate_migrations') IS NULL") == ["t"], "and keeps no record table of its own")
    second = run()
    check(second.returncode == 0 and "current" in second.stdout, f"a second run changes nothing: {second.stdout.strip()}")
    pg.psql("INSERT INTO otpgate.schema_migrations (version, name) VALUES (99, 'v099_from_the_future')", role="otpgate_owner")
    try:
        newer = run()
        check(newer.returncode == 1 and "v099_from_the_future" in newer.stderr and "newer" in newer.stderr,
              f"a database newer than the binary: the runner refuses ({newer.returncode}: {newer.stderr.strip()[-200:]})")
        try:
            Daemon(pg, "node_a", d).stop()
            check(False, "a node refused to start on a database newer than the binary")
        except RuntimeError as e:
            check("v099_from_the_future" in str(e) and "upgrade this node" in str(e),
                  "a node refuses to start on a database newer than the binary, naming the migration")
    finally:
        pg.psql("DELETE FROM otpgate.schema_migrations WHERE version = 99", role="otpgate_owner")


def doctor(d):
    """`otpgate admin doctor --json` against daemon d: its findings about the tier."""
    r = subprocess.run([os.path.join(BIN, "otpgate"), "admin", "doctor", "--config", d.config, "--socket", d.socket, "--json"],
                       capture_output=True, text=True, timeout=60)
    try:
        return [f for f in json.loads(r.stdout) if "tier" in f.get("what", "")]
    except ValueError:
        return [{"level": "?", "what": r.stdout[-300:] + r.stderr[-300:]}]


def doctor_tier(pg, d, expect_policy_warning):
    found = doctor(d)
    levels = {f["what"].split(" (")[0][:40]: f["level"] for f in found}
    reach = [f for f in found if "answers the daemon" in f["what"]]
    writes = [f for f in found if f["what"].startswith("tier write checks")]
    schema = [f for f in found if "schema v004" in f["what"]]
    policy = [f for f in found if "[limiter]" in f["what"]]
    check(reach and reach[0]["level"] == "ok" and writes and writes[0]["level"] == "ok" and "single node" in writes[0]["what"]
          and schema and schema[0]["level"] == "ok",
          f"doctor on a tier node: the database answers, the write checks as the daemon sees them, schema v004: {levels}")
    want = "warn" if expect_policy_warning else "ok"
    check(policy and policy[0]["level"] == want,
          f"doctor: {'a warning when' if expect_policy_warning else 'no warning when'} the node's [limiter] "
          f"{'differs from' if expect_policy_warning else 'matches'} the tier's policy: {policy[0]['what'] if policy else found}")


if __name__ == "__main__":
    main()
