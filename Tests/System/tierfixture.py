"""What the tier's system tests and its benchmark share (test_tier.py, test_relay.py,
test_logins.py --through-relay, bench/fleet.py): a checklist, raw line calls on a
daemon's sockets, HOTP, a tier daemon on a PgCluster with its own state directory and
database role, a relay, and a CA for the TLS between them (openssl); daemons are
started and awaited through READY=1.
"""
import base64, hashlib, hmac, json, os, shutil, signal, socket, struct, subprocess, time

failures = []
ENV = dict(os.environ, LC_ALL="C", LANG="C", LANGUAGE="")
T0 = time.monotonic()


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + f"[{time.monotonic() - T0:3.0f} s] " + what, flush=True)
    if not cond:
        failures.append(what)


def call(path, obj, timeout=10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(json.dumps(obj).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return json.loads(data)


def sh(*argv, check_=True):
    r = subprocess.run(list(argv), capture_output=True, text=True, env=ENV)
    if check_ and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


def hotp(secret, c):
    h = hmac.new(secret, struct.pack(">Q", c), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000)


class Otpgated:
    """What every otpgated of these tests has: `role` (its name), `dir`, and `process`,
    started with `notify_env()` and awaited with `wait_ready()`."""

    def notify_env(self):
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify_path
        return env

    def wait_ready(self, timeout=60):
        """READY=1 on NOTIFY_SOCKET: the daemon says when it serves."""
        self.notify.settimeout(0.25)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.process.poll() is None:
            try:
                if b"READY=1" in self.notify.recv(4096):
                    return
            except socket.timeout:
                continue
        self.process.poll()
        raise RuntimeError(f"{self.role} sent no READY=1 (exit {self.process.returncode}): "
                           + open(os.path.join(self.dir, "stderr")).read()[-2000:])


class Daemon(Otpgated):
    """A tier node: `bin` the directory of otpgated, `extra` more TOML for its config
    (a [tier_listener] table), `deadline_ms` its store deadline; `link` the
    [store.postgres] connection keys for TCP with TLS (host, port, password_file,
    ca_file, server_name), else pg's socket directory; `netns` runs the daemon in that
    network namespace (its Unix sockets stay reachable); `pool_size` its connections
    to PostgreSQL."""

    def __init__(self, pg, role, work, key=None, single_node=True, bin=".build/debug", deadline_ms=2000, extra="",
                 link=None, netns=None, pool_size=4):
        self.role = role
        self.dir = os.path.join(work, role)
        os.mkdir(self.dir, 0o755)
        if key:
            # Every node of a tier holds the same master key (docs/OPERATIONS.md).
            os.mkdir(os.path.join(self.dir, "s"), 0o755)
            shutil.copy(key, os.path.join(self.dir, "s", "master.key"))
            os.chmod(os.path.join(self.dir, "s", "master.key"), 0o600)
        self.config = os.path.join(self.dir, "otpgated.toml")
        if link:
            connection = "\n".join(f'{k} = {json.dumps(v)}' for k, v in link.items()) + '\ntls = "verify-full"'
        else:
            connection = f'host = "{pg.sockets}"\nport = {pg.port}\ntls = "disable"'
        with open(self.config, "w") as f:
            f.write(f"""[store]
backend = "postgres"
local_users = ["root"]
[store.postgres]
{connection}
database = "otpgate"
user = "{role}"
single_node = {"true" if single_node else "false"}
deadline = {deadline_ms}
pool_size = {pool_size}
""" + extra)
        self.socket = os.path.join(self.dir, "s", "otpgated.sock")
        self.admin = os.path.join(self.dir, "s", "otpgated-admin.sock")
        self.argv = ((["ip", "netns", "exec", netns] if netns else [])
                     + [os.path.join(bin, "otpgated"), "--state-dir", os.path.join(self.dir, "s"), "--config", self.config])
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.process = subprocess.Popen(
            # The key came first (copied from the first node): the local store is new.
            self.argv + (["--new-store"] if key else []),
            stderr=self.err, stdout=subprocess.DEVNULL, env=self.notify_env())
        self.wait_ready()

    def restart(self, kill=False):
        """Stops the daemon (SIGKILL with kill: a crash) and starts it again on the same
        state directory, key files and config; raises RuntimeError if it sends no READY=1."""
        if kill:
            self.process.kill()
            self.process.wait(timeout=30)
        elif self.process.poll() is None:
            self.stop()
        self.notify.close()
        os.unlink(self.notify_path)
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.process = subprocess.Popen(self.argv, stderr=self.err, stdout=subprocess.DEVNULL, env=self.notify_env())
        self.wait_ready()

    def verify(self, user, code, rhost="10.0.0.1"):
        return call(self.socket if user != "root" else self.admin,
                    {"v": 1, "op": "verify", "user": user, "code": code, "service": "sshd", "rhost": rhost})

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


class FleetCA:
    """A CA and host certificates (CN = host name, SAN = its addresses), with openssl."""

    def __init__(self, dir, name="fleet-ca"):
        self.dir = dir
        self.name = name
        self.ca = os.path.join(dir, f"{name}.pem")
        self.ca_key = os.path.join(dir, f"{name}.key")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                      "-subj", f"/CN={name}", "-keyout", self.ca_key, "-out", self.ca,
                      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, cn, addresses=()):
        cert, key, csr, ext = (os.path.join(self.dir, f"{cn}.{x}") for x in ["pem", "key", "csr", "ext"])
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={cn}",
                      "-keyout", key, "-out", csr)
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join([f"DNS:{cn}"] + [f"IP:{a}" for a in addresses]) + "\n")
            f.write("extendedKeyUsage=serverAuth,clientAuth\n")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial", "-days", "2",
                      "-out", cert, "-extfile", ext)
        os.chmod(key, 0o600)
        return cert, key

    @staticmethod
    def _openssl(*argv):
        r = subprocess.run(["openssl", *argv], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(argv)}: {r.stderr.strip()}")


def tier_listener_toml(port, ca, cert, key, address="0.0.0.0"):
    """The tier's [tier_listener] table (otpgated.toml(5))."""
    return f"""[tier_listener]
listen = ["{address}:{port}"]
ca_file = "{ca}"
certificate_file = "{cert}"
key_file = "{key}"
"""


class Relay(Otpgated):
    """otpgated in mode relay, forwarding to the tier's `endpoints` ("host:port") over
    TLS with `cert`/`key` from `ca`; in network namespace `netns` if given (`ip netns
    exec` execs it: same pid). `started(relay)` is called once the process exists,
    before READY=1 is awaited (a test registers its cleanup there)."""

    def __init__(self, name, work, endpoints, cert, key, ca, bin=".build/debug", deadline_ms=2500,
                 self_service_deadline_ms=6000, netns=None, connections_per_endpoint=2, started=None):
        self.name = self.role = name
        self.dir = os.path.join(work, name)
        os.mkdir(self.dir, 0o755)
        self.state = os.path.join(self.dir, "s")
        self.config = os.path.join(self.dir, "otpgated.toml")
        with open(self.config, "w") as f:
            f.write(f"""mode = "relay"
[relay]
endpoints = [{", ".join(f'"{e}"' for e in endpoints)}]
ca_file = "{ca}"
certificate_file = "{cert}"
key_file = "{key}"
deadline = {deadline_ms}
self_service_deadline = {self_service_deadline_ms}
connections_per_endpoint = {connections_per_endpoint}
""")
        self.socket = os.path.join(self.state, "otpgated.sock")
        self.admin = os.path.join(self.state, "otpgated-admin.sock")
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.process = subprocess.Popen(
            (["ip", "netns", "exec", netns] if netns else [])
            + [os.path.join(bin, "otpgated"), "--state-dir", self.state, "--config", self.config],
            stderr=self.err, stdout=subprocess.DEVNULL, env=self.notify_env())
        if started:
            started(self)
        self.wait_ready()

    def verify(self, user, code):
        return call(self.socket, {"v": 1, "op": "verify", "user": user, "code": code, "service": "sshd", "rhost": "10.0.0.1"})

    def health(self):
        return call(self.socket, {"v": 1, "op": "health"})

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def enrol_hotp(daemon, user):
    b = call(daemon.admin, {"v": 1, "op": "enroll.begin", "user": user, "kind": "hotp"})
    assert b.get("ok"), b
    secret = base64.b32decode(b["secret"] + "=" * (-len(b["secret"]) % 8))
    enrollment = b["enrollment"]
    c = call(daemon.admin, {"v": 1, "op": "enroll.confirm", "user": user, "enrollment": enrollment, "code": hotp(secret, 0)})
    assert c.get("ok"), c
    return secret


def code_of(reply):
    if reply.get("ok"):
        return "ok"
    return str(reply.get("error", "?"))
