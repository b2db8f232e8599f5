#!/usr/bin/env python3
"""Relays on this machine: one real PostgreSQL (pgfixture), two tier daemons with a TLS
listener ([tier_listener]), and two relays (`mode = "relay"`), each in a network
namespace of its own with its own state directory and certificate from a CA made with
openssl here. Run as root (namespaces, users, /etc/pam.d):

    python3 Tests/System/test_relay.py BINDIR [pam/build/pam_otpgate.so]
                                     (otpgated built with --traits Fleet)

Every name this run creates starts with `relay-` (namespaces, veth pairs) or carries
the run's suffix (users, pam.d services); addresses are 10.250.1.0/30 and
10.250.2.0/30, made here and removed at the end.

Checks, each with what would make it fail or a control that must:
- pamtester through relay A logs a user in, with the module unchanged (socket= only);
- a code used through relay A is refused through relay B (control: a fresh code
  through B is accepted); parallel replays of one code through both: exactly one ok,
  the rest replayed_code (not unavailable, so the count means something);
- after enrolment and logins, no file in a relay's state directory holds the secret,
  its base32 text, a recovery code or the tier's master key (control: the same scan
  finds the master key in the tier's state directory); the relay's readable memory
  (/proc/PID/maps + /proc/PID/mem) holds none of them either (controls: the same scan
  finds the master key in the tier daemon, and the user's name in the relay);
- the link cut in relay A's namespace: every request through A answers unavailable
  within the deadline, relay B meanwhile works (control), and A works again after
  the link is healed, without a restart;
- tier node A killed: relay A's next login goes to node B (health names B);
- a relay with a certificate from another CA gets unavailable, never ok, while a
  relay in the same namespace with a trusted certificate logs in (control);
- admin operations through a relay are refused, naming the tier (those on a local
  user are the relay's own store's);
- the tier's audit log names the relay a request came through, from its certificate:
  `otpgate admin audit` on a tier node shows relay-a for the rows of requests through
  relay A and relay-b for those through B, and none for a local caller of the node
  (control); an envelope sent by hand with relay A's certificate that claims to be
  relay-b (in members "host" and "relay" of the envelope, its caller and its
  request) is answered, and its row still names relay-a (control: the same line
  with relay B's certificate is audited as relay-b, so the name follows the
  certificate, and the forged members are in the bytes sent); an envelope whose
  "relay" member is a name instead of the link version is refused (bad_request,
  connection closed) and writes no row;
- root, a local user, enrols and logs in on the relay's own store with no tier at
  all (control: a tier user's verify is unavailable then).

Until this build's otpgated has the tier listener, the test says SKIP for the parts
that need it and runs the rest (a relay with no tier: unavailable within the
deadline, health, admin refusals, no key of the fleet in its state directory).
"""
import base64, concurrent.futures, json, os, pwd, shutil, socket, ssl, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgfixture import PgCluster  # noqa: E402
import tierfixture  # noqa: E402
from tierfixture import check, call, hotp, code_of, failures  # noqa: E402
import test_logins as T  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug")
MODULE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "pam/build/pam_otpgate.so")
RELAY_DEADLINE_MS = 2500
SELF_SERVICE_DEADLINE_MS = 6000
RUN = T.RUN
ENV = T.ENV
NETS = {"relay-a": 1, "relay-b": 2}  # namespace -> x of 10.250.x.0/30


sh = tierfixture.sh
FleetCA, tier_listener_toml = tierfixture.FleetCA, tierfixture.tier_listener_toml


# ---------------------------------------------------------- the namespaces ---


class Namespace:
    """A network namespace with a veth pair to the host: 10.250.x.1 on the host's
    side (where the tier listens), 10.250.x.2 inside."""

    def __init__(self, name, x):
        self.name, self.x = name, x
        self.host_end, self.ns_end = f"{name}-h", f"{name}-n"
        self.tier_address, self.address = f"10.250.{x}.1", f"10.250.{x}.2"
        sh("ip", "netns", "add", name)
        T.cleanup.add(f"remove namespace {name}", sh, "ip", "netns", "del", name)
        sh("ip", "link", "add", self.host_end, "type", "veth", "peer", "name", self.ns_end)
        T.cleanup.add(f"remove veth {self.host_end}", lambda: sh("ip", "link", "del", self.host_end, check_=False))
        sh("ip", "link", "set", self.ns_end, "netns", name)
        sh("ip", "addr", "add", f"{self.tier_address}/30", "dev", self.host_end)
        sh("ip", "link", "set", self.host_end, "up")
        sh("ip", "netns", "exec", name, "ip", "addr", "add", f"{self.address}/30", "dev", self.ns_end)
        sh("ip", "netns", "exec", name, "ip", "link", "set", self.ns_end, "up")
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")

    def cut(self):
        sh("ip", "link", "set", self.host_end, "down")

    def heal(self):
        sh("ip", "link", "set", self.host_end, "up")


# --------------------------------------------------------------- the nodes ---


def Relay(name, ns, work, endpoints, cert, key, ca):
    """A relay of this test (tierfixture.Relay) inside `ns`, stopped at cleanup."""
    return tierfixture.Relay(name, work, endpoints, cert, key, ca, bin=BIN, deadline_ms=RELAY_DEADLINE_MS,
                             self_service_deadline_ms=SELF_SERVICE_DEADLINE_MS, netns=ns.name,
                             started=lambda r: T.cleanup.add(f"stop relay {name}", r.stop))


def call_as(user, path, obj):
    """One request on `path` from a process running as `user` (the relay vouches for
    that uid's name)."""
    code = ("import json,socket,sys\ns=socket.socket(socket.AF_UNIX);s.settimeout(10);s.connect(sys.argv[1])\n"
            "s.sendall(sys.argv[2].encode()+b'\\n');d=b''\n"
            "while not d.endswith(b'\\n'):\n b=s.recv(65536)\n if not b: break\n d+=b\nsys.stdout.write(d.decode())")
    # The system's python: the user may not be able to run this one (a pyenv in /root).
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    r = subprocess.run([python, "-c", code, path, tierfixture.json.dumps(obj)], user=user, capture_output=True,
                       text=True, timeout=20, env=ENV)
    if r.returncode != 0:
        raise RuntimeError(f"call as {user}: {r.stderr.strip()}")
    return tierfixture.json.loads(r.stdout)


def enrol_through(relay, user):
    """enroll.begin and enroll.confirm as the user, through the relay; returns the raw
    secret and the recovery codes the tier handed out."""
    b = call_as(user, relay.socket, {"v": 1, "op": "enroll.begin", "user": user, "kind": "hotp"})
    assert b.get("ok"), b
    secret = base64.b32decode(b["secret"] + "=" * (-len(b["secret"]) % 8))
    c = call_as(user, relay.socket, {"v": 1, "op": "enroll.confirm", "user": user, "enrollment": b["enrollment"],
                                      "code": hotp(secret, 0)})
    assert c.get("ok"), f"{c}; relay log: {open(os.path.join(relay.dir, 'stderr')).read()[-1500:]}"
    return secret, b["secret"], c.get("recovery_codes", [])


# ---------------------------------------------------------------- scanning ---


def readable_memory(pid):
    """Every readable mapping of a live process, from /proc/PID/maps and /proc/PID/mem."""
    chunks = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except (OSError, ValueError, OverflowError):
                continue
    return b"\0".join(chunks)


def files_under(root):
    data = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    data.append(f.read())
    return b"\0".join(data)


def found(blob, needles):
    return sorted(name for name, value in needles.items() if value and value in blob)


# -------------------------------------------------------------------- main ---


def main():
    if os.geteuid() != 0:
        print("test_relay: must run as root (namespaces, users, /etc/pam.d)")
        sys.exit(1)
    work = tempfile.mkdtemp(prefix="relay-test-")
    os.chmod(work, 0o755)
    T.cleanup.add(f"remove {work}", shutil.rmtree, work, True)
    pg = PgCluster()
    T.cleanup.add("stop PostgreSQL", pg.cleanup)
    try:
        run(pg, work)
    finally:
        T.cleanup.run()
    print(f"test_relay: {'FAILED ' + str(len(failures)) if failures else 'all checks passed'}")
    sys.exit(1 if failures or T.cleanup.failed else 0)


def run(pg, work):
    nets = {name: Namespace(name, x) for name, x in NETS.items()}
    ca = FleetCA(work)
    stranger_ca = FleetCA(work, "stranger-ca")
    tier_addresses = [n.tier_address for n in nets.values()]
    tier_certs = {n: ca.issue(n, tier_addresses) for n in ["tier-a", "tier-b"]}
    ports = {"tier-a": T.free_port(), "tier-b": T.free_port()}

    no_tier_checks(work, nets["relay-a"], ca)

    pg.start()
    pg.bootstrap()
    for role in ["tier_a", "tier_b"]:
        pg.create_node_role(role)
    # tier_b also administers: `otpgate admin audit` on its admin socket.
    pg.psql("GRANT otpgate_admin TO tier_b", database="postgres")
    # Replays count as failures (as on one host): a limit that the replay check
    # cannot reach, as test_tier.py sets.
    pg.psql("SELECT otpgate.set_limiter_policy(1000, 1000, 1, 2, 100, 0)", role="otpgate_owner")
    tiers = {}
    cert, key = tier_certs["tier-a"]
    tiers["tier-a"] = tierfixture.Daemon(pg, "tier_a", work, bin=BIN,
                                         extra=tier_listener_toml(ports["tier-a"], ca.ca, cert, key))
    T.cleanup.add("stop tier-a", stop_quietly, tiers["tier-a"])
    key_file = os.path.join(tiers["tier-a"].dir, "s", "master.key")
    cert, key = tier_certs["tier-b"]
    tiers["tier-b"] = tierfixture.Daemon(pg, "tier_b", work, key_file, bin=BIN,
                                         extra=tier_listener_toml(ports["tier-b"], ca.ca, cert, key))
    T.cleanup.add("stop tier-b", stop_quietly, tiers["tier-b"])

    relays, relay_certs = {}, {}
    for name, ns in nets.items():
        cert, key = relay_certs[name] = ca.issue(name)
        endpoints = [f"{ns.tier_address}:{ports['tier-a']}", f"{ns.tier_address}:{ports['tier-b']}"]
        relays[name] = Relay(name, ns, work, endpoints, cert, key, ca.ca)
    a, b = relays["relay-a"], relays["relay-b"]
    h = a.health()
    check(h.get("mode") == "relay" and h.get("store") == "ok" and h.get("tier", "").endswith(f":{ports['tier-a']}"),
          f"relay A's health: mode relay, the tier's store ok, answered by the first endpoint (tier-a): {h}")

    user = T.add_user("relay")
    secret, secret_b32, recovery = enrol_through(a, user)
    check(len(secret) >= 16 and len(recovery) > 0, f"{user} enrolled through relay A (as itself), recovery codes handed out")
    counter = [1]

    def next_code():
        counter[0] += 1
        return hotp(secret, counter[0] - 1)

    logins(a, b, user, next_code)
    replays(a, b, user, next_code)
    audit_names_the_relay(a, b, tiers["tier-b"], user, next_code, ca, relay_certs,
                          (nets["relay-a"].tier_address, ports["tier-b"]))
    no_secret_on_relay(a, tiers["tier-a"], user, secret, secret_b32, recovery, key_file)
    link_cut(nets["relay-a"], a, b, user, next_code)
    admin_refused(a)
    untrusted(work, nets["relay-a"], stranger_ca, ca, a, user, next_code, ports)
    node_killed(tiers["tier-a"], a, user, next_code, ports)


def stop_quietly(daemon):
    try:
        daemon.stop()
    except Exception:
        daemon.process.kill()


def logins(a, b, user, next_code):
    """pamtester through the relays: the module is the single-host one, socket= only."""
    service_a = T.pam_service(f"relay-a-{RUN}", f"auth required {MODULE} socket={a.socket}\n")
    service_b = T.pam_service(f"relay-b-{RUN}", f"auth required {MODULE} socket={b.socket}\n")
    code = next_code()
    T.expect_pam(service_a, user, code, "pamtester through relay A: a fresh code logs in", True)
    T.expect_pam(service_b, user, code, "the same code through relay B is refused (PAM_AUTH_ERR)", False, T.PAM_AUTH_ERR)
    T.expect_pam(service_b, user, next_code(), "control: a fresh code through relay B logs in", True)


def replays(a, b, user, next_code, copies=24):
    code = next_code()
    with concurrent.futures.ThreadPoolExecutor(max_workers=copies) as pool:
        replies = list(pool.map(lambda i: code_of((a if i % 2 else b).verify(user, code)), range(copies)))
    check(replies.count("ok") == 1 and set(replies) <= {"ok", "replayed_code"},
          f"{copies} parallel replays of one code through both relays: exactly one ok, the rest replayed_code "
          f"({replies.count('ok')} ok, others {sorted(set(replies) - {'ok'})})")


def no_secret_on_relay(a, tier, user, secret, secret_b32, recovery, key_file):
    with open(key_file, "rb") as f:
        master_key = f.read()
    needles = {"raw secret": secret, "base32 secret": secret_b32.encode(), "tier master key": master_key}
    for i, rc in enumerate(recovery):
        needles[f"recovery code {i}"] = rc.encode()
        needles[f"recovery code {i} typed"] = rc.replace("-", "").encode()
    on_disk = found(files_under(a.state), needles)
    check(on_disk == [], f"relay A's state directory holds no secret, recovery code or tier master key (found: {on_disk})")
    check("tier master key" in found(files_under(os.path.join(tier.dir, "s")), needles),
          "control: the same file scan finds the master key in the tier's state directory")
    in_relay = readable_memory(a.process.pid)
    in_memory = found(in_relay, needles)
    check(in_memory == [], f"relay A's readable memory holds none of them (found: {in_memory}; {len(in_relay)} bytes scanned)")
    check(user.encode() in in_relay, "control: the same memory scan finds the user's name in relay A")
    check("tier master key" in found(readable_memory(tier.process.pid), needles),
          "control: the same memory scan finds the master key in the tier daemon")


def link_cut(ns, a, b, user, next_code):
    ns.cut()
    try:
        requests = [
            ("verify", RELAY_DEADLINE_MS, lambda: a.verify(user, next_code())),
            ("status", RELAY_DEADLINE_MS, lambda: call(a.socket, {"v": 1, "op": "status", "user": user})),
            ("enroll.begin", SELF_SERVICE_DEADLINE_MS,
             lambda: call_as(user, a.socket, {"v": 1, "op": "enroll.begin", "user": user, "kind": "hotp"})),
        ]
        for op, deadline, send in requests:
            t0 = time.monotonic()
            reply = code_of(send())
            took = time.monotonic() - t0
            check(reply == "unavailable" and took < deadline / 1000 + 0.5,
                  f"link cut: {op} through relay A answers unavailable within the deadline ({reply} after {took:.2f} s)")
        h = a.health()
        check(h.get("store") == "unavailable" and h.get("mode") == "relay", f"link cut: relay A's health says so: {h}")
        check(code_of(b.verify(user, next_code())) == "ok", "control: meanwhile relay B logs in")
    finally:
        ns.heal()
    check(code_of(a.verify(user, next_code())) == "ok", "link healed: relay A logs in again, without a restart")


def tls_exchange(address, cert, key, ca, lines):
    """Speaks the relay link by hand: TLS 1.3 with `cert`, one line at a time; returns
    each reply (None once the tier closed the connection)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    replies = []
    with socket.create_connection(address, timeout=10) as raw, ctx.wrap_socket(raw, server_hostname=address[0]) as s:
        f = s.makefile("rb")
        for line in lines:
            try:
                s.sendall(line)
                answer = f.readline()
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                answer = b""
            replies.append(json.loads(answer) if answer else None)
            if not answer:
                break
    return replies


def audit_rows(tier, user):
    """`otpgate admin audit --json` on a tier node's admin socket: the user's events."""
    r = subprocess.run([os.path.join(BIN, "otpgate"), "admin", "audit", "--user", user, "--limit", "10000", "--json",
                        "--socket", tier.admin], capture_output=True, text=True, env=ENV, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"otpgate admin audit: {r.stderr.strip()}")
    return json.loads(r.stdout)["events"]


def audit_names_the_relay(a, b, tier, user, next_code, ca, certs, address):
    marks = {}
    for name, relay in (("relay-a", a), ("relay-b", b)):
        service = f"via-{name}"
        reply = call(relay.socket, {"v": 1, "op": "verify", "user": user, "code": next_code(), "service": service})
        marks[service] = (name, code_of(reply))
    reply = call(tier.socket, {"v": 1, "op": "verify", "user": user, "code": next_code(), "service": "on-the-node"})
    marks["on-the-node"] = (None, code_of(reply))

    def envelope(service, relay_member=1):
        return (json.dumps({
            "relay": relay_member, "host": "relay-b", "via": "relay-b",
            "caller": {"uid": 0, "user": "root", "privileged": True, "host": "relay-b", "relay": "relay-b"},
            "request": {"v": 1, "op": "verify", "user": user, "code": next_code(), "service": service,
                        "host": "relay-b", "relay": "relay-b"}}) + "\n").encode()

    forged = envelope("forged-by-a")
    check(forged.count(b'"relay-b"') == 6, f"the forged line names relay-b in six members: {forged[:160]!r}...")
    cert, key = certs["relay-a"]
    reply, = tls_exchange(address, cert, key, ca.ca, [forged])
    marks["forged-by-a"] = ("relay-a", code_of(reply or {}))
    cert, key = certs["relay-b"]
    reply, = tls_exchange(address, cert, key, ca.ca, [envelope("sent-by-b")])
    marks["sent-by-b"] = ("relay-b", code_of(reply or {}))
    before = len(audit_rows(tier, user))
    cert, key = certs["relay-a"]
    replies = tls_exchange(address, cert, key, ca.ca, [envelope("version-forged", relay_member="relay-b"), forged])
    check(replies[0] and replies[0].get("error") == "bad_request" and "'relay': 1" in replies[0].get("message", "")
          and replies[1:] in ([], [None]),
          f"an envelope whose 'relay' member names a relay instead of the link version is refused, the connection "
          f"closed: {replies}")

    rows = audit_rows(tier, user)
    check(len(rows) == before, f"... and it wrote no audit row ({len(rows) - before} new)")
    seen = {r.get("service"): (r.get("relay"), r["event"]) for r in rows if r.get("service") in marks}
    for service, (relay, outcome) in marks.items():
        check(outcome == "ok" and seen.get(service) == (relay, "verify.ok"),
              f"{service}: answered {outcome}, audited on the tier as {seen.get(service)}, expected ({relay}, verify.ok)")
    # A refusal through relay A: the user asks about another user (the tier's rule for
    # an unprivileged caller), audited as forbidden with relay A's name (schema v004
    # takes the one-word event; before, a tier only logged it).
    other = f"{user}-other"
    reply = call_as(user, a.socket, {"v": 1, "op": "status", "user": other})
    try:
        refused = [(r["event"], r.get("relay"), r.get("peer_uid")) for r in audit_rows(tier, other)]
    except RuntimeError as e:  # no row at all: the CLI says the user is unknown
        refused = [str(e)]
    check(reply.get("error") == "forbidden" and refused[-1:] == [("forbidden", "relay-a", pwd.getpwnam(user).pw_uid)],
          f"a request the tier refuses through relay A is audited as forbidden, naming relay-a and the caller's uid: "
          f"{reply.get('error')}, {refused}")
    enrolment = [r.get("relay") for r in rows if r["event"].startswith("enroll.")]
    check(enrolment and set(enrolment) == {"relay-a"}, f"the enrolment through relay A is audited as relay-a: {enrolment}")
    r = subprocess.run([os.path.join(BIN, "otpgate"), "admin", "audit", "--user", user, "--limit", "10000",
                        "--socket", tier.admin], capture_output=True, text=True, env=ENV, timeout=30)
    header = r.stdout.split("\n")[0].split()
    lines = [l for l in r.stdout.split("\n") if " via-relay-b " in l]
    check(header[:7] == ["TIME", "EVENT", "USER", "UID", "SERVICE", "RHOST", "RELAY"] and len(lines) == 1
          and lines[0].split()[6] == "relay-b", f"the table shows a RELAY column: {header}, {lines}")


def admin_refused(a):
    for op in ["admin.list", "admin.audit"]:
        reply = call(a.admin, {"v": 1, "op": op} if op == "admin.list" else {"v": 1, "op": op, "user": "x"})
        check(reply.get("error") == "forbidden" and "tier node" in reply.get("message", ""),
              f"{op} through relay A's admin socket is refused, naming the tier: {reply}")


def untrusted(work, ns, stranger_ca, ca, a, user, next_code, ports):
    cert, key = stranger_ca.issue("relay-x")
    endpoints = [f"{ns.tier_address}:{ports['tier-a']}", f"{ns.tier_address}:{ports['tier-b']}"]
    x = Relay("relay-x", ns, work, endpoints, cert, key, ca.ca)
    try:
        reply = code_of(x.verify(user, next_code()))
        check(reply == "unavailable", f"a relay whose certificate another CA signed is refused by the tier: {reply}")
        check(code_of(a.verify(user, next_code())) == "ok", "control: relay A, in the same namespace, logs in")
    finally:
        x.stop()


def node_killed(tier_a, a, user, next_code, ports):
    tier_a.process.kill()
    tier_a.process.wait()
    full = a.verify(user, next_code())
    reply = code_of(full)
    h = a.health()
    log = "" if reply == "ok" else "; relay log: " + open(os.path.join(a.dir, "stderr")).read()[-800:]
    check(reply == "ok" and h.get("tier", "").endswith(f":{ports['tier-b']}"),
          f"tier-a killed: relay A logs in through tier-b ({full}; health names {h.get('tier')}){log}")


def no_tier_checks(work, ns, ca):
    """A relay whose tier is not there yet (nothing listens): the parts that need no
    tier listener."""
    cert, key = ca.issue("relay-lonely")
    r = Relay("relay-lonely", ns, work, [f"{ns.tier_address}:{T.free_port()}", f"{ns.tier_address}:{T.free_port()}"],
              cert, key, ca.ca)
    try:
        t0 = time.monotonic()
        reply = r.verify("nobody", "123456")
        took = time.monotonic() - t0
        check(code_of(reply) == "unavailable" and took < RELAY_DEADLINE_MS / 1000 + 0.5,
              f"no tier node reachable: a verify through the relay answers unavailable within the deadline "
              f"({code_of(reply)} after {took:.2f} s: {reply.get('message')})")
        h = r.health()
        check(h.get("mode") == "relay" and h.get("store") == "unavailable" and "no tier node answered" in h.get("store_detail", ""),
              f"its health says mode relay, the tier unavailable: {h}")
        reply = call(r.admin, {"v": 1, "op": "admin.list"})
        check(reply.get("error") == "forbidden", f"admin.list on a relay is refused: {reply}")
        # Break-glass: root is local on a relay, its factor in the relay's own store.
        root_secret = tierfixture.enrol_hotp(r, "root")
        reply = call(r.admin, {"v": 1, "op": "verify", "user": "root", "code": hotp(root_secret, 1), "service": "sshd"})
        check(code_of(reply) == "ok", f"with no tier at all, root (a local user) enrols and logs in on the relay's own store: {reply}")
        reply = call(r.admin, {"v": 1, "op": "admin.unlock", "user": "root"})
        check(reply.get("ok") is True, f"admin operations on a local user are served by the relay's own store: {reply}")
        print(f"     relay state directory: {sorted(os.listdir(r.state))}")
    finally:
        r.stop()


if __name__ == "__main__":
    main()
