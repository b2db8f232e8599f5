#!/usr/bin/env python3
"""System tests: the real otpgated and pam_otpgate.so behind pamtester, sshd and sudo.

Run as root (users, /etc/pam.d, /etc/sudoers.d, a daemon owned by root):
    python3 Tests/System/test_logins.py OTPGATED_BINARY PAM_MODULE [--through-relay]

--through-relay runs the same login scenarios (pamtester's logins, sshd, sudo) with
pam_otpgate pointed at a relay instead: a throwaway PostgreSQL (pgfixture), one tier
node with a TLS listener on 127.0.0.1 and one relay (tierfixture), certificates from
a CA made here; OTPGATED_BINARY must be built with --traits Fleet. The module line is
the same, socket= the relay's. The scenarios that are about the local daemon itself
(its limiter config, frozen, stopped, killed; the ssh recipe's doctor) run only
without it: test_relay.py covers a relay whose tier is frozen, cut off or killed.

Installs the Debian packages it needs if they are missing. Everything it creates
(users, pam.d and sudoers.d files, processes, temporary directories) carries a random
suffix and is removed again in `finally` blocks, also when a check fails. Prints one
line per check and exits non-zero if any check (or any clean-up step) failed.

Each scenario that needs a successful login uses its own freshly enrolled user: the
enrolment's code sets the replay watermark to the current 30 s step, and the login
then uses the next step's code (`oathtool -N "now + 30 seconds"`), which the daemon's
window of +-1 step accepts, so no test waits for the clock.
"""
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PACKAGES = ["openssh-server", "openssh-client", "sudo", "pamtester", "oathtool", "python3-pexpect"]
ENV = dict(os.environ, LC_ALL="C", LANG="C", LANGUAGE="")
RUN = secrets.token_hex(3)        # the random suffix of every name this run creates
PREFIX = f"otpgate-systest-{RUN}"  # pam.d services, sudoers.d file, sshd program name
PASSWORD = "pw-" + secrets.token_hex(8)

# pam_strerror texts (LC_ALL=C) that pamtester prints for the return codes of the
# module's table in DESIGN.md.
PAM_AUTH_ERR = "Authentication failure"
PAM_MAXTRIES = "Have exhausted maximum number of retries for service"
PAM_AUTHINFO_UNAVAIL = "Authentication service cannot retrieve authentication info"
SUCCESS = "successfully authenticated"

failures = []
checks = 0
started = time.monotonic()


def check(condition, what, detail=""):
    """Records and prints one check; detail is shown only when it fails."""
    global checks
    checks += 1
    if condition:
        print(f"ok   {what}", flush=True)
    else:
        failures.append(what)
        print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
    return condition


def short(text, n=600):
    text = text.strip().replace("\r", "")
    return text if len(text) <= n else "..." + text[-n:]


class Cleanup:
    """A stack of undo steps, run in reverse order; a failing step is reported and
    the others still run."""

    def __init__(self):
        self.steps = []
        self.failed = False

    def add(self, what, fn, *args):
        self.steps.append((what, fn, args))

    def run(self):
        while self.steps:
            what, fn, args = self.steps.pop()
            try:
                fn(*args)
            except Exception as e:  # keep cleaning up
                self.failed = True
                print(f"FAIL clean-up: {what}: {e!r}", flush=True)


cleanup = Cleanup()

# ------------------------------------------------------------------ packages ---


def ensure_packages():
    def missing():
        out = []
        for p in PACKAGES:
            r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", p], capture_output=True, text=True)
            if r.returncode != 0 or r.stdout.strip() != "installed":
                out.append(p)
        return out

    need = missing()
    if not need:
        return
    print(f"installing {' '.join(need)}", flush=True)
    apt_env = dict(ENV, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q"] + need
    if subprocess.run(cmd, env=apt_env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=apt_env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(cmd, env=apt_env, stdout=subprocess.DEVNULL, check=True)
    still = missing()
    if still:
        sys.exit(f"could not install: {' '.join(still)}")


def import_pexpect():
    try:
        import pexpect
    except ImportError:  # python3 is not Debian's: use Debian's python3-pexpect
        sys.path.append("/usr/lib/python3/dist-packages")
        import pexpect
    return pexpect


# -------------------------------------------------------------------- daemon ---


def rpc(path, request, timeout=5.0):
    """One request, one reply line, on a fresh connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps(request, separators=(",", ":")) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"otpgated closed the connection without answering {request.get('op')}")
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])


class Daemon:
    """otpgated with its own state directory and config, run as root."""

    def __init__(self, binary, root, name, config):
        self.name = name
        self.dir = os.path.join(root, name)
        os.mkdir(self.dir, 0o755)
        self.config = os.path.join(root, name + ".toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.socket = os.path.join(self.dir, "otpgated.sock")
        self.admin_socket = os.path.join(self.dir, "otpgated-admin.sock")
        self.log_path = os.path.join(root, name + ".log")
        self.log = open(self.log_path, "w")
        # An explicit --config, so that a system-wide /etc/otpgate/otpgated.toml
        # cannot change what this test runs with.
        self.proc = subprocess.Popen(
            [binary, "--state-dir", self.dir, "--config", self.config],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=ENV)
        cleanup.add(f"stop otpgated ({name})", self.stop)
        self.wait_ready()

    def wait_ready(self):
        """Until the daemon answers health on its public socket."""
        name = self.name
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"otpgated ({name}) exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if rpc(self.socket, {"v": 1, "op": "health"}, timeout=2).get("ok") is True:
                    break
            except (OSError, ValueError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"otpgated ({name}) not ready after 20 s: {self.log_tail()}")
            time.sleep(0.05)

    def admin(self, op, **fields):
        return rpc(self.admin_socket, {"v": 1, "op": op, **fields})

    def enroll(self, user):
        """Enrols user through the admin socket; returns (secret, recovery codes)."""
        begin = self.admin("enroll.begin", user=user)
        if begin.get("ok") is not True:
            raise RuntimeError(f"enroll.begin {user}: {begin}")
        confirm = self.admin("enroll.confirm", user=user, enrollment=begin["enrollment"], code=totp(begin["secret"]))
        if confirm.get("ok") is not True:
            raise RuntimeError(f"enroll.confirm {user}: {confirm}")
        return begin["secret"], confirm["recovery_codes"]

    def audit(self, user):
        reply = self.admin("admin.audit", user=user, limit=100)
        return reply.get("events", []) if reply.get("ok") is True else []

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def log_tail(self, n=15):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class RelayedDaemon(Daemon):
    """A tier node and a relay in front of it (tierfixture), as the scenarios see a
    daemon: `socket` is the relay's (where pam_otpgate asks); enrolment and the audit
    log are the tier node's (its admin socket). The tier keys a relayed row's rhost as
    relay:CN/rhost; `audit` gives back the rhost the module sent, but only for rows
    whose relay column names this relay's CN, so the scenarios' checks run unchanged
    and also check that the tier named the relay."""

    RELAY = "relay-logins"

    def __init__(self, binary, root):
        import pgfixture
        import tierfixture
        self.name = "relay"
        bindir = os.path.dirname(binary)
        self.pg = pgfixture.PgCluster()
        cleanup.add("stop PostgreSQL", self.pg.cleanup)
        self.pg.start()
        self.pg.bootstrap()
        self.pg.create_node_role("tier_logins")
        # The node also administers: enrolment and admin.audit on its admin socket.
        self.pg.psql("GRANT otpgate_admin TO tier_logins", database="postgres")
        ca = tierfixture.FleetCA(root)
        cert, key = ca.issue("tier-logins", ["127.0.0.1"])
        port = free_port()
        self.tier = tierfixture.Daemon(self.pg, "tier_logins", root, bin=bindir,
                                       extra=tierfixture.tier_listener_toml(port, ca.ca, cert, key, address="127.0.0.1"))
        cleanup.add("stop the tier node", self.tier.stop)
        cert, key = ca.issue(self.RELAY)
        self.relay = tierfixture.Relay(self.RELAY, root, [f"127.0.0.1:{port}"], cert, key, ca.ca, bin=bindir,
                                       started=lambda r: cleanup.add("stop the relay", r.stop))
        self.socket = self.relay.socket
        self.admin_socket = self.tier.admin

    def audit(self, user):
        prefix = f"relay:{self.RELAY}/"
        events = super().audit(user)
        for e in events:
            if e.get("relay") == self.RELAY and e.get("rhost", "").startswith(prefix):
                e["rhost"] = e["rhost"][len(prefix):]
                if not e["rhost"]:
                    del e["rhost"]
        return events

    def stop(self):
        self.relay.stop()
        return 0

    def log_tail(self, n=15):
        out = []
        for what, path in (("relay", self.relay.err.name), ("tier node", self.tier.err.name)):
            try:
                with open(path) as f:
                    out.append(f"[{what}]\n" + "".join(f.readlines()[-n:]))
            except OSError:
                pass
        return "".join(out)


# -------------------------------------------------------------------- codes ---


def totp(secret, when=None):
    argv = ["oathtool", "--totp", "-b"] + (["-N", when] if when else []) + [secret]
    return subprocess.run(argv, capture_output=True, text=True, check=True, env=ENV).stdout.strip()


def next_code(secret):
    """A code of a later step than the enrolment's, inside the daemon's window."""
    return totp(secret, "now + 30 seconds")


def wrong_code(secret):
    """Six digits that are none of the codes of steps now-2 .. now+2."""
    out = subprocess.run(["oathtool", "--totp", "-b", "-w", "4", "-N", "now - 60 seconds", secret],
                         capture_output=True, text=True, check=True, env=ENV).stdout.split()
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        if code not in out:
            return code


def audit_has(daemon, user, event, **fields):
    return any(e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
               for e in daemon.audit(user))


# ------------------------------------------------------------ system objects ---


def pam_service(name, text):
    path = f"/etc/pam.d/{name}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    cleanup.add(f"remove {path}", os.remove, path)
    with os.fdopen(fd, "w") as f:
        f.write(f"# temporary, written by otpgate's Tests/System/test_logins.py (run {RUN})\n" + text)
    return name


def module_line(module, daemon, extra=""):
    return f"auth required {module} socket={daemon.socket} timeout=2 {extra}".rstrip() + "\n"


def add_user(tag):
    """A system user with a home, /bin/sh and PASSWORD."""
    name = f"otpgst-{RUN}-{tag}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-c", "otpgate system test", name], check=True, env=ENV)
    cleanup.add(f"remove user {name}", remove_user, name)
    subprocess.run(["chpasswd"], input=f"{name}:{PASSWORD}\n", text=True, check=True, env=ENV)
    return name


def remove_user(name):
    subprocess.run(["userdel", "-f", "-r", name], check=True, env=ENV, stderr=subprocess.DEVNULL)
    for stamp in [f"/run/sudo/ts/{name}", f"/var/lib/sudo/lectured/{name}"]:
        if os.path.lexists(stamp):
            os.remove(stamp)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- pamtester ---


def pamtester(service, user, answer):
    """echo ANSWER | pamtester -v SERVICE USER authenticate; returns (status, output)."""
    r = subprocess.run(["pamtester", "-v", service, user, "authenticate"], input=answer + "\n",
                       capture_output=True, text=True, timeout=20, env=ENV)
    return r.returncode, r.stdout + r.stderr


def expect_pam(service, user, answer, what, ok, error=None, fast=None):
    """Runs pamtester and checks success or failure with the given pam_strerror text."""
    t0 = time.monotonic()
    status, out = pamtester(service, user, answer)
    elapsed = time.monotonic() - t0
    if ok:
        good = status == 0 and SUCCESS in out
    else:
        good = status != 0 and SUCCESS not in out and (error is None or error in out)
    if fast is not None:
        good = good and elapsed < fast
    check(good, what, f"exit {status} after {elapsed:.1f} s: {short(out)}")
    return out


def test_pamtester(binary, module, root, main, daemons):
    test_pamtester_logins(module, main)
    test_pamtester_daemon_faults(binary, module, root, daemons)


def test_pamtester_logins(module, main):
    """Logins through pamtester against `main` (a daemon, or a relay before a tier)."""
    plain = pam_service(f"{PREFIX}-pt", module_line(module, main))
    permit = "auth required pam_permit.so\n"
    with_nullok = pam_service(f"{PREFIX}-nullok", module_line(module, main, "nullok") + permit)
    without_nullok = pam_service(f"{PREFIX}-nonull", module_line(module, main) + permit)

    # These users exist only in the daemon: pamtester and the module do not look
    # them up in the system user database.
    user = f"otpgst-{RUN}-pt"
    secret, recovery = main.enroll(user)
    code = next_code(secret)
    expect_pam(plain, user, code, "pamtester: a fresh code from oathtool is accepted", True)
    check(audit_has(main, user, "verify.ok", service=plain),
          "pamtester: the daemon audited the login with the pam.d service name", str(main.audit(user)))
    expect_pam(plain, user, code, "pamtester: the same code again is refused (PAM_AUTH_ERR)", False, PAM_AUTH_ERR)
    check(audit_has(main, user, "verify.replayed", service=plain), "pamtester: the daemon saw it as a replay",
          str(main.audit(user)))
    expect_pam(plain, user, wrong_code(secret), "pamtester: a wrong code is refused (PAM_AUTH_ERR)", False, PAM_AUTH_ERR)
    expect_pam(plain, user, recovery[0], "pamtester: a recovery code is accepted", True)
    expect_pam(plain, user, recovery[0], "pamtester: the same recovery code again is refused", False, PAM_AUTH_ERR)

    unenrolled = f"otpgst-{RUN}-ne"
    expect_pam(with_nullok, unenrolled, "000000", "pamtester: nullok lets an unenrolled user through (PAM_IGNORE)", True)
    expect_pam(without_nullok, unenrolled, "000000",
               "pamtester: without nullok the same unenrolled user is refused (PAM_AUTH_ERR)", False, PAM_AUTH_ERR)


def test_pamtester_daemon_faults(binary, module, root, daemons):
    """The local daemon's own limiter config, and the daemon frozen, stopped, killed."""
    limited = Daemon(binary, root, "limited", "[limiter]\nfree_per_user = 2\nbase_delay = 60\n")
    daemons.append(limited)
    on_limited = pam_service(f"{PREFIX}-lim", module_line(module, limited))

    # Rate limit: two free failures, then 60 s to wait; even a good code is refused.
    user = f"otpgst-{RUN}-rl"
    secret, _ = limited.enroll(user)
    frozen_user = f"otpgst-{RUN}-fz"
    frozen_secret, _ = limited.enroll(frozen_user)
    down_user = f"otpgst-{RUN}-dn"
    down_secret, _ = limited.enroll(down_user)
    for i in (1, 2):
        expect_pam(on_limited, user, wrong_code(secret), f"pamtester: rate limit: wrong code {i} refused", False, PAM_AUTH_ERR)
    out = expect_pam(on_limited, user, next_code(secret),
                     "pamtester: rate limit: then a good code is refused (PAM_MAXTRIES)", False, PAM_MAXTRIES)
    m = re.search(r"Try again in (\d+) seconds", out)
    check(m is not None and 0 < int(m.group(1)) <= 60,
          "pamtester: rate limit: the output says \"Try again in N seconds\" (0 < N <= 60)", short(out))
    check(audit_has(limited, user, "verify.limited"), "pamtester: rate limit: audited as verify.limited")

    # Daemon frozen: the module gives up after timeout=2, never success.
    limited.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        expect_pam(on_limited, frozen_user, next_code(frozen_secret),
                   "pamtester: daemon frozen (SIGSTOP): a good code is refused (PAM_AUTHINFO_UNAVAIL)",
                   False, PAM_AUTHINFO_UNAVAIL)
        elapsed = time.monotonic() - t0
        check(1.5 < elapsed < 4, "pamtester: daemon frozen: the module gave up after timeout=2", f"{elapsed:.1f} s")
    finally:
        limited.proc.send_signal(signal.SIGCONT)
    # Let it take the module's abandoned connection off its backlog before the
    # SIGTERM below: a connection accepted while it shuts down crashes otpgated
    # (see the report; swift-nio issue 2813), which this check is not about.
    limited.wait_ready()

    # Daemon stopped: a code that would be good is refused, quickly, never success.
    status = limited.stop()
    check(status == 0, "otpgated exits 0 on SIGTERM", f"exit {status}: {short(limited.log_tail())}")
    check(not os.path.exists(limited.socket), "otpgated removed its socket on SIGTERM")
    expect_pam(on_limited, down_user, next_code(down_secret),
               "pamtester: daemon stopped: a good code is refused (PAM_AUTHINFO_UNAVAIL), within the timeout",
               False, PAM_AUTHINFO_UNAVAIL, fast=4.0)

    # Daemon killed: its socket file is left behind and nobody listens on it.
    killed = Daemon(binary, root, "killed", "# the defaults\n")
    daemons.append(killed)
    on_killed = pam_service(f"{PREFIX}-kil", module_line(module, killed))
    user = f"otpgst-{RUN}-kl"
    secret, _ = killed.enroll(user)
    killed.proc.kill()
    killed.proc.wait()
    check(os.path.exists(killed.socket), "otpgated killed (SIGKILL): its socket file is left behind")
    expect_pam(on_killed, user, next_code(secret),
               "pamtester: daemon killed, stale socket: a good code is refused (PAM_AUTHINFO_UNAVAIL)",
               False, PAM_AUTHINFO_UNAVAIL, fast=4.0)


# ---------------------------------------------------------------------- sshd ---


def ssh_run(pexpect, port, user, password, code, identity=None):
    """Runs the ssh command, answering the prompts (with the key `identity` first, if
    given). Returns (logged in, prompts, transcript)."""
    keys = (["-o", "PreferredAuthentications=publickey,keyboard-interactive", "-o", "PubkeyAuthentication=yes",
             "-o", "IdentitiesOnly=yes", "-i", identity] if identity else
            ["-o", "PreferredAuthentications=keyboard-interactive", "-o", "PubkeyAuthentication=no"])
    argv = ["-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            *keys, "-o", "ConnectTimeout=10", f"{user}@127.0.0.1", "echo LOGGED-IN-$((6*7))"]
    log = io.StringIO()
    child = pexpect.spawn("ssh", argv, env=ENV, encoding="utf-8", timeout=15)
    child.logfile_read = log
    prompts = []
    try:
        while True:
            i = child.expect([r"[Pp]assword: ?", r"Verification code: ?", "Permission denied",
                              pexpect.EOF, pexpect.TIMEOUT])
            if i == 0:
                if "code" in prompts:
                    prompts.append("password again")
                    break  # sshd asks again after the refused code
                prompts.append("password")
                child.sendline(password)
            elif i == 1:
                prompts.append("code")
                child.sendline(code)
            elif i == 2:
                prompts.append("denied")
                break
            elif i == 3:
                break
            else:
                prompts.append("timeout")
                break
    finally:
        child.close(force=True)
    return "LOGGED-IN-42" in log.getvalue(), prompts, log.getvalue()


class SSHD:
    """A real sshd on a free loopback port with its own host key and sshd_config (the
    lines given, after the fixed ones), run as PAM service `service`: sshd names its
    PAM service after its program name, so it runs through a symlink of that name (by
    absolute path, which sshd needs to re-exec itself)."""

    def __init__(self, root, tag, service, lines):
        self.dir = os.path.join(root, f"sshd-{tag}")
        os.mkdir(self.dir, 0o700)
        hostkey = os.path.join(self.dir, "ssh_host_ed25519_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "otpgate-systest", "-f", hostkey],
                       check=True, env=ENV)
        self.port = free_port()
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\nPidFile {self.dir}/sshd.pid\n"
                    "PermitRootLogin no\nUseDNS no\nPrintMotd no\nLogLevel VERBOSE\n" + "".join(l + "\n" for l in lines))
        program = os.path.join(self.dir, service)
        os.symlink("/usr/sbin/sshd", program)
        if not os.path.isdir("/run/sshd"):
            os.mkdir("/run/sshd", 0o755)
            cleanup.add("remove /run/sshd", os.rmdir, "/run/sshd")
        self.log_path = os.path.join(self.dir, "sshd.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([program, "-D", "-e", "-f", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT, env=ENV)
        cleanup.add(f"stop sshd ({tag})", self.stop)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd not listening on {self.port} after 10 s: {self.log()}")
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def log(self):
        with open(self.log_path) as f:
            return short(f.read(), 1500)


def test_sshd(module, main, root, pexpect):
    user = add_user("ssh")
    secret, _ = main.enroll(user)
    service = f"{PREFIX}-sshd"
    pam_service(service, "@include common-auth\n" + module_line(module, main)
                + "@include common-account\n@include common-session\n")
    sshd = SSHD(root, "main", service, [
        "UsePAM yes", "KbdInteractiveAuthentication yes", "PasswordAuthentication no", "PubkeyAuthentication no",
        "AuthenticationMethods keyboard-interactive:pam", f"AllowUsers {user}"])
    port, sshd_log = sshd.port, sshd.log

    logged_in, prompts, out = ssh_run(pexpect, port, user, PASSWORD, next_code(secret))
    check(prompts[:2] == ["password", "code"], "sshd: asks for the password, then \"Verification code:\"",
          f"prompts {prompts}: {short(out)} | sshd: {sshd_log()}")
    check(logged_in, "sshd: right password and code: the command prints LOGGED-IN-42",
          f"prompts {prompts}: {short(out)} | sshd: {sshd_log()}")
    # The module sends PAM_SERVICE and PAM_RHOST: this shows that sshd used the
    # symlink's PAM service (not /etc/pam.d/sshd) and passed the client's address.
    check(audit_has(main, user, "verify.ok", service=service, rhost="127.0.0.1"),
          f"sshd: used PAM service {service} and rhost 127.0.0.1 (daemon audit)", str(main.audit(user)))

    logged_in, prompts, out = ssh_run(pexpect, port, user, PASSWORD, wrong_code(secret))
    check(not logged_in and "code" in prompts and prompts[-1] in ("password again", "denied"),
          "sshd: right password, wrong code: no LOGGED-IN-42, sshd asks again or denies",
          f"prompts {prompts}: {short(out)}")
    check(audit_has(main, user, "verify.invalid", service=service),
          "sshd: the wrong code reached the daemon (audited verify.invalid)", str(main.audit(user)))


def test_ssh_recipe(binary, module, main, root, pexpect):
    """Issue 13.6: the README's old SSH recipe (common-auth commented out, with
    AuthenticationMethods publickey,keyboard-interactive:pam keyboard-interactive:pam)
    lets a code alone log in; doctor fails it. The fixed recipe (publickey,
    keyboard-interactive:pam only) refuses a code alone, asks key and code, and doctor
    passes it. The PAM stack is the same in both: the code and nothing else."""
    # Beside the daemon in a build directory; an installed daemon (/usr/sbin) has the
    # CLI in a bin directory instead.
    otpgate = os.path.join(os.path.dirname(binary), "otpgate")
    if not os.path.exists(otpgate):
        otpgate = shutil.which("otpgate") or otpgate
    hole, keyed = add_user("r13"), add_user("r13k")
    hole_secret, _ = main.enroll(hole)
    keyed_secret, _ = main.enroll(keyed)
    service = f"{PREFIX}-r13"
    pam_service(service, "# @include common-auth   (keys alone should replace passwords)\n" + module_line(module, main)
                + "account required pam_permit.so\nsession required pam_permit.so\n")
    base = ["UsePAM yes", "KbdInteractiveAuthentication yes", "PasswordAuthentication no", "PubkeyAuthentication yes",
            f"AllowUsers {hole} {keyed}"]

    def doctor(sshd):
        r = subprocess.run([otpgate, "admin", "doctor", "--socket", main.socket, "--pam-directory", "/etc/pam.d",
                            "--service", service, "--sshd-service", service, "--sshd-config", sshd.config],
                           capture_output=True, text=True, timeout=60, env=ENV)
        return r.returncode, r.stdout

    old = SSHD(root, "old-recipe", service, base + ["AuthenticationMethods publickey,keyboard-interactive:pam keyboard-interactive:pam"])
    status, out = doctor(old)
    check(status == 4 and f"FAIL  {old.config}:" in out and "AuthenticationMethods alternative 'keyboard-interactive:pam' with no password"
          f" in /etc/pam.d/{service}: anyone on the network logs in with a one-time code alone" in out,
          "ssh recipe: doctor FAILs the old recipe (a code alone), naming sshd_config and the PAM file", f"exit {status}: {short(out, 2000)}")
    logged_in, prompts, out = ssh_run(pexpect, old.port, hole, "no-password-is-asked", next_code(hole_secret))
    check(logged_in and prompts == ["code"], "ssh recipe: the old recipe logs in with a code alone, no key, no password (the hole doctor names)",
          f"prompts {prompts}: {short(out)} | sshd: {old.log()}")

    new = SSHD(root, "new-recipe", service, base + ["AuthenticationMethods publickey,keyboard-interactive:pam"])
    status, out = doctor(new)
    check(f"{new.config}:" in out and "FAIL  " + new.config not in out and f"/etc/pam.d/{service}:" in out
          and "every AuthenticationMethods alternative that reaches PAM asks for the code" in out
          and f"FAIL  /etc/pam.d/{service}" not in out,
          "ssh recipe: doctor finds nothing wrong with the fixed recipe's PAM stack and sshd_config", short(out, 2000))
    logged_in, prompts, out = ssh_run(pexpect, new.port, keyed, "no-password-is-asked", next_code(keyed_secret))
    check(not logged_in and "code" not in prompts, "ssh recipe: the fixed recipe refuses a code without a key (the code is not even asked)",
          f"prompts {prompts}: {short(out)}")
    home = os.path.expanduser(f"~{keyed}")
    key = os.path.join(root, "r13-client-key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "otpgate-systest", "-f", key], check=True, env=ENV)
    os.makedirs(os.path.join(home, ".ssh"), mode=0o700, exist_ok=True)
    shutil.copy(key + ".pub", os.path.join(home, ".ssh", "authorized_keys"))
    subprocess.run(["chown", "-R", f"{keyed}:", os.path.join(home, ".ssh")], check=True, env=ENV)
    os.chmod(os.path.join(home, ".ssh", "authorized_keys"), 0o600)
    # The right code first: ssh answers each of sshd's three code prompts, and three
    # failures from one host make the daemon wait.
    logged_in, prompts, out = ssh_run(pexpect, new.port, keyed, "no-password-is-asked", next_code(keyed_secret), identity=key)
    check(logged_in and prompts == ["code"], "ssh recipe: the fixed recipe, key and the right code: logged in, no password asked",
          f"prompts {prompts}: {short(out)} | sshd: {new.log()}")
    logged_in, prompts, out = ssh_run(pexpect, new.port, keyed, "no-password-is-asked", wrong_code(keyed_secret), identity=key)
    check(not logged_in and "code" in prompts, "ssh recipe: the fixed recipe, key and a wrong code: refused",
          f"prompts {prompts}: {short(out)} | sshd: {new.log()}")


# ---------------------------------------------------------------------- sudo ---


def test_sudo(module, main, root):
    user = add_user("sudo")
    secret, _ = main.enroll(user)
    service = pam_service(f"{PREFIX}-sudo", "@include common-auth\n" + module_line(module, main)
                          + "@include common-account\n@include common-session-noninteractive\n")

    # Validated on its own first, then installed 0440 and the whole policy re-checked.
    staged = os.path.join(root, "sudoers")
    with open(staged, "w") as f:
        f.write(f'Defaults:{user} pam_service="{service}", passwd_tries=3, lecture=never, !mail_badpass\n'
                f"{user} ALL=(ALL) ALL\n")
    r = subprocess.run(["visudo", "-cf", staged], capture_output=True, text=True, env=ENV)
    if not check(r.returncode == 0, "sudo: the sudoers.d file passes visudo -cf", short(r.stdout + r.stderr)):
        return
    path = f"/etc/sudoers.d/{PREFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o440)
    cleanup.add(f"remove {path}", os.remove, path)
    with os.fdopen(fd, "w") as f, open(staged) as src:
        f.write(src.read())
    os.chmod(path, 0o440)
    r = subprocess.run(["visudo", "-c"], capture_output=True, text=True, env=ENV)
    if not check(r.returncode == 0, "sudo: the whole sudo policy still passes visudo -c", short(r.stdout + r.stderr)):
        return

    def sudo(stdin):
        r = subprocess.run(["runuser", "-u", user, "--", "sudo", "-S", "-k", "-p", "PW:", "id", "-u"],
                           input=stdin, capture_output=True, text=True, timeout=30, env=ENV)
        return r.returncode, r.stdout, r.stderr

    status, out, err = sudo(f"{PASSWORD}\n{next_code(secret)}\n")
    check(status == 0 and out.strip() == "0", "sudo: right password and code: id -u prints 0",
          f"exit {status}, stdout {out!r}, stderr {short(err)}")
    # sudo -p replaces every PAM prompt by its own unless passprompt_override is
    # off, so the code is asked for as a second "PW:".
    check(re.fullmatch(r"PW:\s*(PW:|Verification code:)\s*", err) is not None,
          "sudo: asked twice: for the password, then for the code", repr(err))
    check(audit_has(main, user, "verify.ok", service=service),
          f"sudo: used PAM service {service} (daemon audit)", str(main.audit(user)))

    # sudo asks up to three times; every round gets the right password, a wrong code.
    status, out, err = sudo("".join(f"{PASSWORD}\n{wrong_code(secret)}\n" for _ in range(3)))
    check(status != 0 and out.strip() != "0", "sudo: right password, wrong code: refused, id does not run",
          f"exit {status}, stdout {out!r}, stderr {short(err)}")
    rejected = [e for e in main.audit(user) if e.get("event") == "verify.invalid" and e.get("service") == service]
    check(len(rejected) == 3, "sudo: each of its three tries reached the daemon (3 x verify.invalid)",
          f"{len(rejected)} events; stderr {short(err)}")


# ---------------------------------------------------------------------- main ---


def main():
    args = sys.argv[1:]
    through_relay = "--through-relay" in args
    args = [a for a in args if a != "--through-relay"]
    if len(args) != 2:
        sys.exit("usage: test_logins.py OTPGATED_BINARY PAM_MODULE [--through-relay]")
    if os.geteuid() != 0:
        sys.exit("test_logins.py must run as root: it adds users, pam.d and sudoers.d files")
    binary, module = (os.path.abspath(a) for a in args)
    for path in (binary, module):
        if not os.path.isfile(path):
            sys.exit(f"{path}: not a file")
    # SIGTERM and SIGHUP unwind through the finally blocks like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))

    ensure_packages()
    pexpect = import_pexpect()

    root = tempfile.mkdtemp(prefix=f"{PREFIX}-")
    daemons = []
    interrupted = None
    try:
        cleanup.add(f"remove {root}", shutil.rmtree, root)
        os.chmod(root, 0o755)
        # pam.d cannot name a path with white space (the clone may sit in one): the
        # module is loaded from a copy here.
        shutil.copy2(module, os.path.join(root, "pam_otpgate.so"))
        module = os.path.join(root, "pam_otpgate.so")
        started_what = ("a tier node and a relay start, the relay answers health" if through_relay
                        else "otpgated starts as root and answers health")
        try:
            main_daemon = RelayedDaemon(binary, root) if through_relay else Daemon(binary, root, "main", "# the defaults\n")
            daemons.append(main_daemon)
            if through_relay:
                health = rpc(main_daemon.socket, {"v": 1, "op": "health"})
                check(health.get("mode") == "relay" and health.get("store") == "ok", started_what, str(health))
            else:
                check(True, started_what)
        except Exception as e:
            check(False, started_what, str(e))
            main_daemon = None
        if main_daemon is not None:
            scenarios = [("pamtester", lambda: test_pamtester_logins(module, main_daemon)),
                         ("sshd", lambda: test_sshd(module, main_daemon, root, pexpect)),
                         ("sudo", lambda: test_sudo(module, main_daemon, root))] if through_relay else [
                ("pamtester", lambda: test_pamtester(binary, module, root, main_daemon, daemons)),
                ("sshd", lambda: test_sshd(module, main_daemon, root, pexpect)),
                ("ssh recipe", lambda: test_ssh_recipe(binary, module, main_daemon, root, pexpect)),
                ("sudo", lambda: test_sudo(module, main_daemon, root))]
            for name, test in scenarios:
                try:
                    test()
                except Exception as e:
                    check(False, f"{name}: the scenario ran to its end", f"{type(e).__name__}: {e}")
        if failures:
            for d in daemons:
                print(f"--- otpgated ({d.name}) log, last lines:\n{d.log_tail(30)}", flush=True)
    except (KeyboardInterrupt, SystemExit) as e:
        interrupted = e
    finally:
        cleanup.run()
    elapsed = time.monotonic() - started
    print(f"{checks} checks, {len(failures)} failed, {elapsed:.1f} s"
          + (", clean-up FAILED" if cleanup.failed else "")
          + (", INTERRUPTED" if interrupted is not None else ""), flush=True)
    return 1 if failures or cleanup.failed or interrupted is not None else 0


if __name__ == "__main__":
    sys.exit(main())
