#!/usr/bin/env python3
"""Rekey across a verifier tier (docs/OPERATIONS.md, "Rekey"): one real PostgreSQL,
three real otpgated nodes on it, each with its own state directory, database role and
local (break-glass) store holding its root user.

    python3 Tests/System/test_tier_rekey.py BINDIR      (otpgated built with --traits Fleet)

Checks, each with what would make it fail:
- control: the next key on two nodes of three: `admin rekey` is refused, naming the
  third, and nothing changed (the key check, the sealed key ids in the database and in
  each local store, the key files), while logins go on;
- a rekey stopped after its begin (EXECUTE on rekey_replace revoked) and the node that
  ran it killed: the node restarts with both keys, the tier keeps serving and
  enrolling (under either key), and the next `admin rekey` resumes and finishes;
- an enrolment on a node that has not yet seen the finish (it seals under the retired
  key, which the database refuses) succeeds under the new key;
- with the next key on all three: every secret (shared, pending enrolments, each node's
  local root) under the new key afterwards, the old key retired in the database and
  on every node (master.key replaced, master.key.next gone), one node finishing its
  part at start after a crash, while logins run on all three nodes and none fails;
- each node restarted with only the new key works; a node restarted with only the old
  key refuses to start, naming both keys (its local store's check, and for a node
  without a local store yet the tier's key check).
"""
import glob, hashlib, os, shutil, signal, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgfixture import PgCluster  # noqa: E402
import tierfixture  # noqa: E402
from tierfixture import check, call, hotp, enrol_hotp, code_of, failures  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/debug"
ROLES = ["node_a", "node_b", "node_c"]


def key_id(path):
    """The id of the key in a key file: the first 4 bytes of SHA-256 over the label and the key."""
    with open(path, "rb") as f:
        return hashlib.sha256(b"otpgate master key id\0" + f.read()).digest()[:4].hex()


def local_key_ids(d):
    """{key id: secrets} in a node's local SQLite store (tokens and pending enrolments)."""
    path = glob.glob(os.path.join(d.dir, "s", "store", "*.db"))[0]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        out = {}
        for table in ("tokens", "enrollments"):
            for (secret,) in db.execute(f"SELECT secret FROM {table}"):
                out[bytes(secret[1:5]).hex()] = out.get(bytes(secret[1:5]).hex(), 0) + 1
        return out
    finally:
        db.close()


def shared_key_ids(pg):
    return {r.split("|")[0]: int(r.split("|")[1]) for r in pg.psql("SELECT * FROM otpgate.sealed_by_key()")}


def key_check(pg):
    return pg.psql("SELECT key_id || '|' || coalesce(previous_key_id, '-') FROM otpgate.key_check")[0]


def stage(d, new_key):
    """The next key beside the node's key (0600, the daemon's user), then SIGHUP."""
    path = os.path.join(d.dir, "s", "master.key.next")
    shutil.copy(new_key, path)
    os.chmod(path, 0o600)
    d.process.send_signal(signal.SIGHUP)


def wait_for(what, cond, timeout=60):
    """Until cond() holds (a state the daemon writes: a database row, a renamed file)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    check(False, f"timed out waiting for {what}")
    return False


class Logins:
    """One thread per node, each verifying its users' next HOTP codes (fleet users and
    the node's local root) in a loop; every reply must be ok. `paused(role)` holds one
    node's thread between two verifies (while that node restarts)."""

    def __init__(self, daemons, secrets):
        self.daemons, self.secrets = daemons, secrets
        self.counters = {(d.role, u): 1 for d in daemons for u in secrets[d.role]}
        self.lock = threading.Lock()
        self.bad = []
        self.times = {d.role: [] for d in daemons}
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(d,)) for d in daemons]
        self.holds = {d.role: threading.Lock() for d in daemons}

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def run(self, d):
        users = list(self.secrets[d.role])
        i = 0
        while not self.stopping.is_set():
            user = users[i % len(users)]
            i += 1
            with self.holds[d.role]:
                c = self.counters[(d.role, user)]
                self.counters[(d.role, user)] = c + 1
                try:
                    reply = code_of(d.verify(user, hotp(self.secrets[d.role][user], c)))
                except OSError as e:
                    reply = f"no reply ({e})"
            with self.lock:
                self.times[d.role].append(time.monotonic())
                if reply != "ok":
                    self.bad.append((d.role, user, reply))

    def paused(self, role):
        return self.holds[role]

    def next_code(self, role, user):
        c = self.counters[(role, user)]
        self.counters[(role, user)] = c + 1
        return hotp(self.secrets[role][user], c)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)

    def between(self, role, start, end):
        with self.lock:
            return sum(1 for t in self.times[role] if start <= t <= end)


def main():
    work = tempfile.mkdtemp(prefix="otpgate-rekey-")
    os.chmod(work, 0o755)
    pg = PgCluster()
    daemons = []
    logins = None
    try:
        pg.start()
        pg.bootstrap()
        for role in ROLES:
            pg.create_node_role(role)
        # node_a runs the rekey: its role administers too (docs/POSTGRES.md, roles).
        pg.psql("GRANT otpgate_admin TO node_a", database="postgres")
        pg.psql("SELECT otpgate.set_limiter_policy(1000, 1000, 1, 2, 100, 0)", role="otpgate_owner")
        a = tierfixture.Daemon(pg, "node_a", work, bin=BIN)
        old_key = os.path.join(a.dir, "s", "master.key")
        keep_old = os.path.join(work, "old.key")
        shutil.copy(old_key, keep_old)
        daemons = [a] + [tierfixture.Daemon(pg, role, work, old_key, bin=BIN) for role in ROLES[1:]]
        old = key_id(keep_old)
        check(key_check(pg) == f"{old}|-", f"the tier's key check names the nodes' key {old}: {key_check(pg)}")

        # Secrets: fleet users enrolled through every node, one pending enrolment, and
        # each node's own root in its local store.
        secrets = {d.role: {} for d in daemons}
        for n in range(60):
            d = daemons[n % 3]
            secrets[d.role][f"f{n:02d}"] = enrol_hotp(d, f"f{n:02d}")
        pending = call(a.admin, {"v": 1, "op": "enroll.begin", "user": "f00", "name": "spare", "kind": "hotp"})
        check(pending.get("ok") is True, f"a pending enrolment stays pending through the rekey: {code_of(pending)}")
        for d in daemons:
            secrets[d.role]["root"] = enrol_hotp(d, "root")
        shared_before = shared_key_ids(pg)
        check(shared_before == {old: 61}, f"60 tokens and 1 pending enrolment in the database, under key {old}: {shared_before}")
        locals_before = {d.role: local_key_ids(d) for d in daemons}
        check(all(v == {old: 1} for v in locals_before.values()), f"each node's root is in its local store under {old}: {locals_before}")

        new_dir = os.path.join(work, "newkey")
        r = subprocess.run([os.path.join(BIN, "otpgated"), "--state-dir", new_dir, "--create-key"], capture_output=True, text=True)
        new_key = os.path.join(new_dir, "master.key")
        new = key_id(new_key)
        check(r.returncode == 0 and new != old, f"a new key made with otpgated --create-key: {new} ({r.stdout.strip()})")

        logins = Logins(daemons, secrets).start()
        control_missing_node(pg, daemons, new_key, old, new, shared_before, locals_before)
        interrupted(pg, daemons, logins, new_key, old, new)
        rekey(pg, daemons, logins, new_key, keep_old, old, new)
        logins.stop()
        total = sum(len(t) for t in logins.times.values())
        check(not logins.bad and total > 0, f"{total} logins on three nodes during the whole procedure, none failed: {logins.bad[:5]}")
        restarts(pg, daemons, logins, keep_old, old, new)
        logins = None
    finally:
        if logins:
            logins.stop()
        for d in daemons:
            try:
                d.stop()
            except Exception:
                d.process.kill()
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"test_tier_rekey: {'FAILED ' + str(len(failures)) if failures else 'all checks passed'}")
    sys.exit(1 if failures else 0)


def reported(pg, role, new):
    return pg.psql(f"SELECT count(*) FROM otpgate.node_keys WHERE node = '{role}' AND '{new}' = ANY (key_ids)") == ["1"]


def control_missing_node(pg, daemons, new_key, old, new, shared_before, locals_before):
    """The next key on node_a and node_b only: the rekey stops before changing anything."""
    a, b, c = daemons
    for d in (a, b):
        stage(d, new_key)
        wait_for(f"{d.role} to report key {new}", lambda d=d: reported(pg, d.role, new))
    reply = call(a.admin, {"v": 1, "op": "admin.rekey"}, timeout=120)
    check(reply.get("ok") is False and "node_c" in reply.get("message", "") and "node_a" not in reply.get("message", ""),
          f"control: node_c lacks the next key: admin rekey refused, naming node_c: {reply.get('message')}")
    check(key_check(pg) == f"{old}|-", f"and the tier's key check is unchanged: {key_check(pg)}")
    check(shared_key_ids(pg) == shared_before, f"and the database's secrets are all still under {old}: {shared_key_ids(pg)}")
    now = {d.role: local_key_ids(d) for d in daemons}
    check(now == locals_before, f"and each local store is unchanged: {now}")
    files = [(key_id(os.path.join(d.dir, "s", "master.key")), os.path.exists(os.path.join(d.dir, "s", "master.key.next")))
             for d in daemons]
    check(files == [(old, True), (old, True), (old, False)], f"and the key files are as they were: {files}")
    events = pg.psql("SELECT count(*) FROM otpgate.audit_events WHERE event LIKE 'admin.rekey%'")
    check(events == ["0"], f"and no rekey was audited: {events}")


def interrupted(pg, daemons, logins, new_key, old, new):
    """A rekey that stops after its begin (node_a's role may not re-seal), node_a
    killed: it restarts with both keys, and the next run resumes."""
    a, b, c = daemons
    stage(c, new_key)
    wait_for(f"node_c to report key {new}", lambda: reported(pg, "node_c", new))
    replace = "otpgate.rekey_replace(text, text, text, bytea)"
    pg.psql(f"REVOKE EXECUTE ON FUNCTION {replace} FROM otpgate_admin", role="otpgate_owner")
    try:
        reply = call(a.admin, {"v": 1, "op": "admin.rekey"}, timeout=120)
        check(reply.get("ok") is False and "otpgate_admin" in reply.get("message", ""),
              f"a rekey whose re-sealing is refused fails: {reply.get('message')}")
        check(key_check(pg) == f"{new}|{old}", f"and leaves the tier mid-rekey (key check {new}, previous {old}): {key_check(pg)}")
        with logins.paused("node_a"):
            a.restart(kill=True)
        check(True, "node_a killed mid-rekey restarts with both keys (READY=1)")
    finally:
        pg.psql(f"GRANT EXECUTE ON FUNCTION {replace} TO otpgate_admin", role="otpgate_owner")
    files = [key_id(os.path.join(d.dir, "s", "master.key")) for d in daemons]
    check(files == [old] * 3, f"mid-rekey, every node keeps its old key file: {files}")
    # Enrolments go on: node_a (restarted) seals under the new key; node_b and node_c
    # under the old one until their next key check (a minute) sees the rekey under way.
    # Either is allowed until the finish; the resumed rekey re-seals what is under the old.
    before = shared_key_ids(pg)
    for n, d in enumerate(daemons * 2):
        enrol_hotp(d, f"mid{n}")
    after = shared_key_ids(pg)
    added_old, added_new = after.get(old, 0) - before.get(old, 0), after.get(new, 0) - before.get(new, 0)
    check(added_old + added_new == 6 and added_new >= 2 and set(after) == {old, new},
          f"mid-rekey, 6 enrolments on the three nodes succeed, node_a's 2 under the new key "
          f"({added_old} under the old, {added_new} under the new; {before} -> {after})")


def rekey(pg, daemons, logins, new_key, old_key, old, new):
    """The rekey resumed and finished on node_a; node_b finishes its part on SIGHUP,
    node_c at start after a crash."""
    a, b, c = daemons
    start = time.monotonic()
    r = subprocess.run([os.path.join(BIN, "otpgate"), "admin", "rekey", "--socket", a.admin], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and new in r.stdout, f"otpgate admin rekey on node_a resumes and finishes: {r.stdout.strip()} {r.stderr.strip()}")
    check(key_check(pg) == f"{new}|-", f"the tier's key check names {new} only (old key retired): {key_check(pg)}")
    # node_b has not settled yet and seals under the retired key: the database refuses
    # that (OG005), and the node takes the tier's key and seals again.
    r = call(b.admin, {"v": 1, "op": "enroll.begin", "user": "late", "kind": "hotp"})
    check(r.get("ok") is True, f"an enrolment on node_b right after the finish, before it settled, succeeds: {code_of(r)}")
    b.process.send_signal(signal.SIGHUP)
    with logins.paused("node_c"):
        c.restart(kill=True)
    for d in daemons:
        wait_for(f"{d.role} to replace its key file",
                 lambda d=d: not os.path.exists(os.path.join(d.dir, "s", "master.key.next")))
    end = time.monotonic()
    for d in (a, b):
        n = logins.between(d.role, start, end)
        check(n > 0, f"{d.role} answered {n} logins while the tier was rekeyed")
    shared = shared_key_ids(pg)
    check(shared == {new: 68}, f"every shared secret (66 tokens, 2 pending enrolments) is under {new}: {shared}")
    locals_after = {d.role: local_key_ids(d) for d in daemons}
    check(all(v == {new: 1} for v in locals_after.values()), f"each node's local root is under {new}: {locals_after}")
    files = [key_id(os.path.join(d.dir, "s", "master.key")) for d in daemons]
    check(files == [new] * 3, f"every node's master.key now holds {new}: {files}")
    rows = pg.psql("SELECT host || ' ' || detail FROM otpgate.audit_events WHERE event = 'admin.rekey'")
    check(rows == [f"node_a key {old} -> {new}, 67 secrets"], f"the database audited one finished rekey: {rows}")
    keys = pg.psql("SELECT node || ' ' || array_to_string(key_ids, ',') FROM otpgate.node_keys ORDER BY node")
    check(keys == [f"{role} {new}" for role in ROLES], f"every node reports only the new key: {keys}")


def restarts(pg, daemons, logins, old_key, old, new):
    """Only the new key: each node starts and serves. Only the old one: refused."""
    for d in daemons:
        d.restart()
        user = next(u for u in logins.secrets[d.role] if u != "root")
        replies = [code_of(d.verify(u, logins.next_code(d.role, u))) for u in [user, "root"]]
        check(replies == ["ok", "ok"], f"{d.role} restarted with only the new key: a fleet user and root log in: {replies}")
    c = daemons[2]
    c.stop()
    key = os.path.join(c.dir, "s", "master.key")
    shutil.copy(key, key + ".saved")
    shutil.copy(old_key, key)
    os.chmod(key, 0o600)
    try:
        c.restart()
        check(False, "node_c with only the old key refused to start")
    except RuntimeError as e:
        message = str(e)
        check(new in message and old in message and "key" in message,
              f"node_c with only the old key refuses to start, naming both keys: {message[-400:]}")
    os.replace(key + ".saved", key)
    # A node with the old key and no local store yet: the tier's key check refuses it.
    stale = os.path.join(os.path.dirname(c.dir), "stale")
    os.mkdir(stale, 0o755)
    try:
        tierfixture.Daemon(pg, "node_c", stale, old_key, bin=BIN).stop()
        check(False, "a new node with only the old key refused to start")
    except RuntimeError as e:
        message = str(e)
        check("database's key check names key " + new in message and old in message,
              f"a new node with only the old key refuses to start on the tier's key check: {message[-300:]}")
    c.restart()
    check(code_of(c.verify("root", logins.next_code("node_c", "root"))) == "ok", "node_c with the new key back starts again")


if __name__ == "__main__":
    main()
