#!/usr/bin/env python3
"""The Debian package on this machine: install, use, upgrade, remove, purge.

Run as root:  python3 Tests/System/test_package.py FIRST.deb NEWER.deb

1. installs FIRST.deb with apt (timed), checks the user, the files with their owners
   and modes, that the daemon runs as otpgate from the init script (or systemd), the
   man pages, the completion, the log (timestamps, 0640), SIGHUP (reload, a changed
   key named, never a kill), logrotate (no line lost; a control rotation without the
   reopen shows that the reopen is what matters), rekey, the root advice, unknown
   users, and a real login through the packaged daemon and module (pamtester);
2. runs Tests/System/test_logins.py (pamtester, sshd, sudo) against the installed
   /usr/sbin/otpgated and pam_otpgate.so;
3. upgrades to NEWER.deb: the daemon restarts, the key and the store stay, the user
   still logs in;
4. removal while a pam.d file uses the module is refused and changes nothing (logins
   still work); removal after the line is gone leaves config, key, store and user;
5. purge removes the state and leaves the user.

A machine where `make install` put otpgate already: its files and state are moved
aside first and put back at the end. Everything this test creates carries a random
suffix and is removed in `finally`.
"""
import glob
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time

first_deb, newer_deb = (os.path.abspath(a) for a in sys.argv[1:3])
ENV = dict(os.environ, LC_ALL="C", LANG="C", DEBIAN_FRONTEND="noninteractive")
RUN = secrets.token_hex(3)
PAMDIR = "/lib/x86_64-linux-gnu/security"
MODULE = PAMDIR + "/pam_otpgate.so"
OTPGATE = "/usr/bin/otpgate"  # the package's, also where `make install` put one in /usr/local
SOCKET = "/run/otpgate/otpgated.sock"
LOG = "/var/log/otpgate/otpgated.log"
SYSTEMD = os.path.isdir("/run/systemd/system")
failures = []
undo = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else f": {str(detail).strip()[-800:]}"), flush=True)
    if not ok:
        failures.append(what)
    return ok


def run(*cmd, check_ok=False, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, env=kw.pop("env", ENV), **kw)
    if check_ok and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


def mode_owner(path):
    st = os.lstat(path)
    return oct(st.st_mode & 0o7777)[2:], pwd.getpwuid(st.st_uid).pw_name


def installed():
    r = run("dpkg-query", "-W", "-f=${db:Status-Status}", "otpgate")
    return r.returncode == 0 and r.stdout.strip() == "installed"


def daemon_pid():
    try:
        pid = int(open("/run/otpgated.pid").read().strip()) if not SYSTEMD else int(
            run("systemctl", "show", "-p", "MainPID", "--value", "otpgated").stdout.strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def rpc(path, request):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])


def totp(secret, offset_steps=0):
    return run("oathtool", "--totp", "-b", "-N", f"now + {30 * offset_steps} seconds", secret, check_ok=True).stdout.strip()


def read_log():
    text = ""
    for path in sorted(glob.glob(LOG + "*")):
        if path.endswith(".gz"):
            text += run("zcat", path).stdout
        else:
            text += open(path).read()
    return text


def wait_for_log(needle, since):
    """The daemon logs after it acted; read until the line is there (told, not slept)."""
    for _ in range(200):
        text = read_log()
        if needle in text[since:] if since is not None else needle in text:
            return True
        time.sleep(0.05)
    return False


# ----------------------------------------------------- what was here before ---

BACKUP = f"/var/tmp/otpgate-package-test-{RUN}"
KEEP = ["/etc/otpgate", "/var/lib/otpgate", "/var/log/otpgate", "/etc/init.d/otpgated",
        "/etc/logrotate.d/otpgated", MODULE]


def move_aside():
    if installed():
        sys.exit("test_package: the otpgate package is installed already; remove it first (this test installs and purges it)")
    refs = run("scripts/otpgate-setup", "pam-references")
    if refs.returncode == 0:
        sys.exit("test_package: these PAM lines use pam_otpgate.so, and this test removes the module:\n"
                 + refs.stdout + "run it on a machine (or container) without them")
    if os.path.exists("/usr/local/sbin/otpgated"):  # a `make install`: stop its daemon
        if SYSTEMD:
            run("systemctl", "stop", "otpgated.service", "otpgated.socket", "otpgated-admin.socket")
        elif os.path.exists("/etc/init.d/otpgated"):
            run("/etc/init.d/otpgated", "stop")
    os.makedirs(BACKUP)
    for path in KEEP:
        if os.path.lexists(path):
            os.makedirs(BACKUP + os.path.dirname(path), exist_ok=True)
            shutil.move(path, BACKUP + path)
    undo.append(put_back)


def put_back():
    for path in KEEP:
        if os.path.lexists(BACKUP + path):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
            shutil.move(BACKUP + path, path)
    shutil.rmtree(BACKUP, ignore_errors=True)
    if os.path.exists("/usr/local/sbin/otpgated"):
        if SYSTEMD:
            run("systemctl", "daemon-reload")
            run("systemctl", "restart", "otpgated.socket", "otpgated-admin.socket", "otpgated.service")
        elif os.path.exists("/etc/init.d/otpgated"):
            run("update-rc.d", "otpgated", "defaults")
            run("/etc/init.d/otpgated", "start")


# policy-rc.d in a container forbids starting services from maintainer scripts (exit
# 101): let otpgated through for this test, and everything else as before.
POLICY = "/usr/sbin/policy-rc.d"


def allow_otpgated():
    saved = POLICY + f".otpgate-test-{RUN}"
    had = os.path.exists(POLICY)
    if had:
        os.rename(POLICY, saved)
    with open(POLICY, "w") as f:
        f.write("#!/bin/sh\n# temporary, Tests/System/test_package.py\n[ \"$1\" = otpgated ] && exit 0\n"
                + (f"exec {saved} \"$@\"\n" if had else "exit 0\n"))
    os.chmod(POLICY, 0o755)

    def restore():
        os.unlink(POLICY)
        if had:
            os.rename(saved, POLICY)
    undo.append(restore)


# -------------------------------------------------------------- a real login ---

class LoginUser:
    """A local user enrolled through the packaged daemon, and a pam.d service file
    that asks pam_otpgate.so (the packaged one) for its code."""

    def __init__(self):
        self.name = f"otpgpkg{RUN}"
        run("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", self.name, check_ok=True)
        undo.append(lambda: run("userdel", self.name))
        self.service = f"otpgate-pkgtest-{RUN}"
        self.pamfile = "/etc/pam.d/" + self.service
        self.write_pam()
        undo.append(lambda: os.path.exists(self.pamfile) and os.unlink(self.pamfile))
        begin = json.loads(run(OTPGATE, "enroll", "--json", "--user", self.name, check_ok=True).stdout)
        self.secret = begin["secret"]
        # The enrolment id on standard input (never argv), then the code.
        done = run(OTPGATE, "enroll", "confirm", "--user", self.name, "--json",
                   input=begin["enrollment"] + "\n" + totp(self.secret) + "\n", check_ok=True)
        self.recovery = json.loads(done.stdout)["recovery_codes"]
        self.next_step = 1

    def write_pam(self):
        with open(self.pamfile, "w") as f:
            f.write("auth required pam_otpgate.so\naccount required pam_permit.so\n")

    def login(self, code):
        r = run("pamtester", self.service, self.name, "authenticate", input=code + "\n")
        return r.returncode == 0 and "successfully authenticated" in r.stdout + r.stderr, r.stdout + r.stderr

    def login_with_totp(self):
        ok, out = self.login(totp(self.secret, self.next_step))
        self.next_step += 1
        return ok, out


# --------------------------------------------------------------------- steps ---

def install_first():
    started = time.monotonic()
    r = run("apt-get", "install", "-y", "--no-install-recommends", first_deb)
    took = time.monotonic() - started
    check(r.returncode == 0 and installed(), f"apt-get install {os.path.basename(first_deb)} ({took:.1f} s)", r.stdout + r.stderr)
    size = run("dpkg-query", "-W", "-f=${Installed-Size}", "otpgate").stdout.strip()
    print(f"figures: install {took:.1f} s; installed size {size} KiB; .deb {os.path.getsize(first_deb) // 1024} KiB", flush=True)

    user = pwd.getpwnam("otpgate")
    check(user.pw_uid < 1000 and user.pw_shell == "/usr/sbin/nologin", "system user otpgate (uid < 1000, no shell)")
    for path, want in [("/etc/otpgate", ("755", "root")), ("/etc/otpgate/otpgated.toml", ("644", "root")),
                       ("/etc/otpgate/keys", ("700", "otpgate")), ("/etc/otpgate/keys/master.key", ("600", "otpgate")),
                       ("/var/lib/otpgate", ("700", "otpgate")), ("/var/log/otpgate", ("750", "otpgate")),
                       (LOG, ("640", "otpgate")), ("/usr/sbin/otpgated", ("755", "root")), ("/usr/bin/otpgate", ("755", "root")),
                       (MODULE, ("644", "root")), ("/etc/init.d/otpgated", ("755", "root")),
                       ("/usr/share/bash-completion/completions/otpgate", ("644", "root"))]:
        got = mode_owner(path) if os.path.lexists(path) else None
        check(got == want, f"{path} {want[0]} {want[1]}", f"got {got}")
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "otpgate").stdout
    check("/etc/otpgate/otpgated.toml" in conffiles and "/etc/init.d/otpgated" in conffiles
          and "/etc/logrotate.d/otpgated" in conffiles, "config, init script and logrotate file are conffiles", conffiles)
    depends = run("dpkg-deb", "-f", first_deb, "Depends", "Recommends").stdout
    check("bash-completion" in depends and "libpam0g" in depends, "Depends has libpam0g, Recommends bash-completion", depends)
    for page in ["otpgate", "otpgated", "pam_otpgate", "otpgated.toml"]:
        r = run("man", "-w", "-a", page)
        check(r.returncode == 0 and "/usr/share/man/" in r.stdout, f"man {page} is installed", r.stdout + r.stderr)
    r = run("bash", "-c", "source /usr/share/bash-completion/bash_completion && _completion_loader otpgate; complete -p otpgate")
    check(r.returncode == 0 and "otpgate" in r.stdout, "bash-completion loads the otpgate completion", r.stdout + r.stderr)

    pid = daemon_pid()
    check(pid is not None, "the daemon was started by the package" + (" (systemd)" if SYSTEMD else " (init script)"))
    if pid:
        uid = int(re.search(r"^Uid:\s+(\d+)", open(f"/proc/{pid}/status").read(), re.M).group(1))
        check(uid == user.pw_uid, "it runs as otpgate")
    if not SYSTEMD:
        r = run("/etc/init.d/otpgated", "status")
        check(r.returncode == 0 and "running" in r.stdout, "/etc/init.d/otpgated status: running", r.stdout + r.stderr)
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0") if pid else []
        check(b"SWIFT_BACKTRACE=enable=no" in env, "the init script starts it with SWIFT_BACKTRACE=enable=no")
        text = read_log()
        check(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \w+ ", text, re.M) is not None,
              "log lines start with an RFC 3339 timestamp", text[-400:])
    r = run(OTPGATE, "admin", "list")
    check(r.returncode == 0, "otpgate admin list works on the packaged daemon", r.stdout + r.stderr)
    r = run(OTPGATE, "admin", "show", f"nosuchuser{RUN}")
    check(r.returncode == 1 and "unknown user" in r.stderr, "admin show of an unknown user exits 1", r.stdout + r.stderr)
    r = run("/usr/sbin/otpgated")
    check(r.returncode == 1 and "sudo -u otpgate otpgated" in r.stderr and "chown 0" not in r.stderr,
          "otpgated started as root refuses and says to start it as otpgate", r.stderr)


def use_daemon(user):
    ok, out = user.login_with_totp()
    check(ok, "pamtester login with a TOTP code through the packaged daemon and module", out)

    key_before = open("/etc/otpgate/keys/master.key", "rb").read()
    r = run(OTPGATE, "admin", "rekey")
    key_after = open("/etc/otpgate/keys/master.key", "rb").read()
    check(r.returncode == 0 and key_after != key_before and mode_owner("/etc/otpgate/keys/master.key") == ("600", "otpgate"),
          "otpgate admin rekey replaces the key in the key directory (0600 otpgate)", r.stdout + r.stderr)
    ok, out = user.login(user.recovery.pop())
    check(ok, "login after rekey (a recovery code)", out)

    if SYSTEMD:
        return  # logging and SIGHUP below are the init script's; systemd has the journal
    pid = daemon_pid()
    mark = len(read_log())
    os.kill(pid, 1)
    check(wait_for_log("SIGHUP: config /etc/otpgate/otpgated.toml reread; no setting changed", mark) and daemon_pid() == pid,
          "SIGHUP rereads the config and the daemon keeps running (same pid)", read_log()[mark:])
    config = open("/etc/otpgate/otpgated.toml").read()
    with open("/etc/otpgate/otpgated.toml", "w") as f:
        f.write(config.replace("window = 1", "window = 2"))
    mark = len(read_log())
    run("/etc/init.d/otpgated", "reload")
    check(wait_for_log("setting policy.window changed", mark) and "takes effect after a restart" in read_log()[mark:]
          and daemon_pid() == pid, "reload with a changed key names it as needing a restart", read_log()[mark:])
    with open("/etc/otpgate/otpgated.toml", "w") as f:
        f.write("[policy]\nwindow = \n")
    mark = len(read_log())
    run("/etc/init.d/otpgated", "reload")
    check(wait_for_log("config not reloaded", mark) and daemon_pid() == pid,
          "reload of a broken config logs it and keeps running", read_log()[mark:])
    with open("/etc/otpgate/otpgated.toml", "w") as f:
        f.write(config)

    # logrotate: every line written around two forced rotations is in the files.
    names = [f"rot{RUN}n{i}" for i in range(60)]
    for i, name in enumerate(names):
        rpc(SOCKET, {"v": 1, "op": "verify", "user": name, "code": "123456"})
        if i in (20, 40):
            r = run("logrotate", "-f", "/etc/logrotate.d/otpgated")
            check(r.returncode == 0, f"logrotate -f (after line {i})", r.stdout + r.stderr)
    check(wait_for_log(names[-1], None), "the last line arrived")
    text = read_log()
    lost = [n for n in names if text.count(f"user.name={n} ") + text.count(f"user.name={n}\n") != 1]
    check(not lost, "logrotate lost no line and doubled none (60 lines, two rotations)", lost[:5])
    check(mode_owner(LOG) == ("640", "otpgate") and os.path.exists(LOG + ".1"), "the new log is 0640 and the old one is kept")
    # Control: a rename without the reopen leaves the daemon writing to the old file.
    os.rename(LOG, LOG + ".control")
    open(LOG, "w").close()
    shutil.chown(LOG, "otpgate", "adm")
    os.chmod(LOG, 0o640)
    rpc(SOCKET, {"v": 1, "op": "verify", "user": f"ctl{RUN}", "code": "123456"})
    wait_for_log(f"ctl{RUN}", None)
    check(f"ctl{RUN}" not in open(LOG).read() and f"ctl{RUN}" in open(LOG + ".control").read(),
          "control: without the SIGHUP reopen, lines go to the renamed file")
    os.kill(pid, 1)
    wait_for_log("SIGHUP", len(read_log()) - 1)
    os.unlink(LOG + ".control")


def system_tests():
    r = subprocess.run([sys.executable, "Tests/System/test_logins.py", "/usr/sbin/otpgated", MODULE], env=ENV)
    check(r.returncode == 0, "Tests/System/test_logins.py against /usr/sbin/otpgated and the installed module")


def upgrade(user):
    pid = daemon_pid()
    key = hashlib.sha256(open("/etc/otpgate/keys/master.key", "rb").read()).hexdigest()
    r = run("apt-get", "install", "-y", "--no-install-recommends", newer_deb)
    version = run("dpkg-query", "-W", "-f=${Version}", "otpgate").stdout
    want = run("dpkg-deb", "-f", newer_deb, "Version").stdout.strip()
    check(r.returncode == 0 and version == want, f"upgrade to {want}", r.stdout + r.stderr)
    new_pid = daemon_pid()
    check(new_pid is not None and new_pid != pid, "the daemon was restarted by the upgrade", f"{pid} -> {new_pid}")
    check(hashlib.sha256(open("/etc/otpgate/keys/master.key", "rb").read()).hexdigest() == key,
          "the upgrade kept the master key")
    ok, out = user.login(user.recovery.pop())
    check(ok, "the enrolled user still logs in after the upgrade (store kept)", out)


def remove(user):
    r = run("apt-get", "remove", "-y", "otpgate")
    check(r.returncode != 0 and installed(), "apt-get remove is refused while a pam.d file uses the module", r.stdout + r.stderr)
    check(f"{user.pamfile}:1:auth required pam_otpgate.so" in r.stdout + r.stderr, "the refusal names file:line",
          r.stdout + r.stderr)
    ok, out = user.login(user.recovery.pop())
    check(ok and os.path.exists(MODULE) and daemon_pid() is not None,
          "after the refusal the module and daemon are there and logins work", out)

    os.unlink(user.pamfile)
    r = run("apt-get", "remove", "-y", "otpgate")
    check(r.returncode == 0 and not installed(), "apt-get remove once no pam.d file uses the module", r.stdout + r.stderr)
    gone = [p for p in ["/usr/sbin/otpgated", "/usr/bin/otpgate", MODULE] if os.path.exists(p)]
    check(not gone and daemon_pid() is None, "programs and module gone, daemon stopped", gone)
    kept = [p for p in ["/etc/otpgate/otpgated.toml", "/etc/otpgate/keys/master.key", "/var/lib/otpgate/otpgate.db"]
            if not os.path.exists(p)]
    check(not kept, "remove keeps the config, the key and the store", kept)


def purge():
    r = run("apt-get", "purge", "-y", "otpgate")
    check(r.returncode == 0, "apt-get purge", r.stdout + r.stderr)
    left = [p for p in ["/etc/otpgate", "/var/lib/otpgate", "/var/log/otpgate", "/etc/init.d/otpgated",
                        "/etc/logrotate.d/otpgated", "/run/otpgate", "/run/otpgated.pid"] if os.path.lexists(p)]
    left += glob.glob("/etc/rc?.d/*otpgated")
    check(not left, "purge removes config, key, store, log and boot links", left)
    check(run("getent", "passwd", "otpgate").returncode == 0, "purge keeps the system user otpgate (documented)")
    status = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "otpgate").stdout.strip()
    check(status in ("", "un", "pn"), "dpkg knows nothing installed of otpgate", status)


def main():
    if os.geteuid() != 0:
        sys.exit("test_package: run as root")
    move_aside()
    allow_otpgated()
    try:
        install_first()
        user = LoginUser()
        use_daemon(user)
        system_tests()
        upgrade(user)
        remove(user)
        purge()
    finally:
        if installed():
            run("apt-get", "purge", "-y", "otpgate", env=dict(ENV, OTPGATE_FORCE_REMOVE="1"))
        while undo:
            try:
                undo.pop()()
            except Exception as e:
                check(False, f"clean-up: {e!r}")
    print(f"test_package: {'FAILED: ' + ', '.join(failures) if failures else 'all checks passed'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
