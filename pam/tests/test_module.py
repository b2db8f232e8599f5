#!/usr/bin/env python3
"""The return-code table of pam_otpgate, through real libpam (pam_start_confdir).

Run as root (the module trusts only sockets and peers owned by root or otpgate):
    python3 pam/tests/test_module.py BUILD_DIR
BUILD_DIR holds pam_otpgate.so and pam_driver, and asan/ the sanitizer builds.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
HERE = os.path.dirname(os.path.abspath(__file__))
failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print("FAIL:", what)


class Fake:
    """The fake daemon in a temporary directory, optionally as another user."""

    def __init__(self, mode, as_user=None):
        self.dir = tempfile.mkdtemp(prefix="pam-otpgate-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "otpgated.sock")
        self.log = os.path.join(self.dir, "requests.log")
        open(self.log, "w").close()
        os.chmod(self.log, 0o666)
        # Run from a copy in this world-readable directory: the daemon may run as
        # another user, who cannot read the clone when it sits in a 0700 home.
        script = os.path.join(self.dir, "fake_daemon.py")
        shutil.copy(os.path.join(HERE, "fake_daemon.py"), script)
        os.chmod(script, 0o644)
        argv = [sys.executable, script, mode, self.socket, self.log]
        if as_user:
            u = pwd.getpwnam(as_user)
            os.chown(self.dir, u.pw_uid, u.pw_gid)
            os.chown(self.log, u.pw_uid, u.pw_gid)
            argv = ["setpriv", f"--reuid={u.pw_uid}", f"--regid={u.pw_gid}", "--clear-groups"] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def requests(self):
        with open(self.log, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines() if line.strip()]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(build, socket_path, args="", answer="123456", user="alice", extra=(), raw=True, before="", after=""):
    """Runs the module once; returns (result, messages, output, seconds).

    raw: call pam_sm_authenticate directly on a handle from pam_start_confdir, to see
    its own return code; otherwise run the whole stack (`before`, the module,
    `after`) through pam_authenticate."""
    confdir = tempfile.mkdtemp(prefix="pam-conf-")
    # pam.d lines cannot name a path with white space: a link from confdir instead.
    module = os.path.join(confdir, "pam_otpgate.so")
    os.symlink(os.path.join(build, "pam_otpgate.so"), module)
    options = f"socket={socket_path} timeout=1 {args}".split()
    with open(os.path.join(confdir, "otpgate-test"), "w") as f:
        f.write(before + f"auth required {module} {' '.join(options)}\n" + after)
    argv = [os.path.join(build, "pam_driver"), "auth", confdir, "otpgate-test", user]
    if answer is not None:
        argv += ["--answer", answer]
    argv += list(extra)
    if raw:
        argv += ["--raw", module] + options
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="halt_on_error=1")
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    elapsed = time.monotonic() - started
    shutil.rmtree(confdir)
    check(out.returncode == 0, f"driver exit {out.returncode}: {out.stderr.strip()[-500:]}")
    key = "raw=" if raw else "stack="
    result = next((l[len(key):] for l in out.stdout.splitlines() if l.startswith(key)), None)
    messages = [l[4:] for l in out.stdout.splitlines() if l.startswith("msg=")]
    return result, messages, out.stdout, elapsed


TABLE = [
    ("ok", "", "PAM_SUCCESS"),
    ("ok_recovery", "", "PAM_SUCCESS"),
    ("invalid", "", "PAM_AUTH_ERR"),
    ("replayed", "", "PAM_AUTH_ERR"),
    ("rate_limited", "", "PAM_MAXTRIES"),
    ("locked", "", "PAM_MAXTRIES"),
    ("not_enrolled_optional", "nullok", "PAM_IGNORE"),
    ("not_enrolled_optional", "", "PAM_AUTH_ERR"),
    ("not_enrolled_required", "nullok", "PAM_AUTH_ERR"),
    ("not_enrolled_required", "", "PAM_AUTH_ERR"),
    ("unavailable", "", "PAM_AUTHINFO_UNAVAIL"),
    ("internal", "", "PAM_AUTHINFO_UNAVAIL"),
    ("forbidden", "", "PAM_AUTHINFO_UNAVAIL"),
    ("bad_request", "", "PAM_AUTHINFO_UNAVAIL"),
    ("unknown_error", "", "PAM_AUTHINFO_UNAVAIL"),
    ("close_early", "", "PAM_AUTHINFO_UNAVAIL"),
    ("stall", "", "PAM_AUTHINFO_UNAVAIL"),
]
MALFORMED = ["garbage", "wrong_v", "no_v", "ok_string", "ok_number", "ok_missing", "ok_with_error",
             "failure_without_error", "duplicate_ok", "nested", "array", "trailing", "two_lines",
             "float_v", "oversized", "no_newline", "nul"]


def table(build):
    for mode, args, expected in TABLE + [(m, "", "PAM_AUTHINFO_UNAVAIL") for m in MALFORMED]:
        fake = Fake(mode)
        try:
            result, messages, _, elapsed = run(build, fake.socket, args)
            check(result == expected, f"[{os.path.basename(build)}] {mode} {args}: {result}, expected {expected}")
            if mode == "stall":
                check(elapsed < 3, f"stall: the 1 s timeout took {elapsed:.1f} s")
            if mode == "rate_limited":
                check(any("37 seconds" in m for m in messages), f"rate_limited: no wait shown: {messages}")
                result, messages, _, _ = run(build, fake.socket, extra=["--silent"])
                check(result == "PAM_MAXTRIES" and not messages, f"rate_limited --silent: {result} {messages}")
            if mode == "ok":
                req = fake.requests()[-1]
                check(req["op"] == "verify" and req["v"] == 1 and req["user"] == "alice" and req["code"] == "123456",
                      f"request: {req}")
                check(req.get("service") == "otpgate-test" and req.get("tty") == "pts/9", f"request items: {req}")
        finally:
            fake.stop()


def trust(build):
    # No daemon at all.
    result, _, _, _ = run(build, "/nonexistent/otpgated.sock")
    check(result == "PAM_AUTHINFO_UNAVAIL", f"no daemon: {result}")
    # A daemon running as an untrusted uid: refused after connecting, before sending.
    fake = Fake("ok", as_user="nobody")
    try:
        os.chown(fake.socket, 0, 0)  # even with a root-owned socket file
        result, _, _, _ = run(build, fake.socket)
        check(result == "PAM_AUTHINFO_UNAVAIL", f"non-root peer: {result}")
        check(fake.requests() == [], "non-root peer received the code")
    finally:
        fake.stop()
    # A root daemon whose socket file belongs to someone else: refused before connecting.
    fake = Fake("ok")
    try:
        nobody = pwd.getpwnam("nobody")
        os.chown(fake.socket, nobody.pw_uid, nobody.pw_gid)
        result, _, _, _ = run(build, fake.socket)
        check(result == "PAM_AUTHINFO_UNAVAIL", f"socket file not root's: {result}")
        check(fake.requests() == [], "untrusted socket file received the code")
    finally:
        fake.stop()


def inputs(build):
    fake = Fake("ok")
    try:
        for user in ["-alice", "+alice", "a" * 257, "al\tice"]:
            result, _, _, _ = run(build, fake.socket, user=user)
            check(result == "PAM_USER_UNKNOWN", f"user {user[:12]!r}: {result}")
        check(fake.requests() == [], "a bad user name reached the daemon")
        result, _, _, _ = run(build, fake.socket, answer=None)
        check(result == "PAM_CONV_ERR", f"conversation failure: {result}")
        # use_first_pass takes the code from PAM_AUTHTOK, which only a module can set:
        # pam_unix (optional, failing for this unknown user) asks and stores it.
        result, _, _, _ = run(build, fake.socket, "use_first_pass", answer="654321", raw=False,
                              before="auth optional pam_unix.so\n")
        check(result == "PAM_SUCCESS" and fake.requests()[-1]["code"] == "654321", f"use_first_pass: {result}")
        result, _, _, _ = run(build, fake.socket, "use_first_pass", answer=None)
        check(result == "PAM_AUTH_ERR", f"use_first_pass without a token: {result}")
        # try_first_pass prompts when there is no token.
        result, _, out, _ = run(build, fake.socket, "try_first_pass", answer="111222")
        check(result == "PAM_SUCCESS" and "prompt=Verification code: " in out, "try_first_pass prompts")
        # forward_pass: password and code in one string; only the password is handed
        # on (pam_exec with expose_authtok writes what the next module receives).
        handed = os.path.join(fake.dir, "handed-on")
        capture = os.path.join(fake.dir, "capture.sh")
        with open(capture, "w") as f:
            f.write(f"#!/bin/sh\ncat > {handed}\n")
        os.chmod(capture, 0o755)
        result, _, out, _ = run(build, fake.socket, "forward_pass", answer="s3cret!987654", raw=False,
                                after=f"auth required pam_exec.so expose_authtok {capture}\n")
        check(result == "PAM_SUCCESS", f"forward_pass: {result}")
        check(fake.requests()[-1]["code"] == "987654", "forward_pass sent the wrong code")
        check("prompt=Password & verification code: " in out, f"forward_pass prompt: {out}")
        with open(handed, "rb") as f:
            check(f.read().rstrip(b"\0") == b"s3cret!", "forward_pass handed on something other than the password")
        result, _, out, _ = run(build, fake.socket, "prompt=Code_please:", answer="123456")
        check("prompt=Code_please:" in out, f"custom prompt: {out}")
        # Unknown options are ignored; the stack still works through pam_authenticate.
        result, _, _, _ = run(build, fake.socket, "no_such_option", raw=False)
        check(result == "PAM_SUCCESS", f"stack with an unknown option: {result}")
    finally:
        fake.stop()


def exports(build):
    out = subprocess.run([os.path.join(build, "pam_driver"), "exports", os.path.join(build, "pam_otpgate.so")],
                         capture_output=True, text=True)
    check(out.returncode == 0, f"exports: {out.stdout}{out.stderr}")
    nm = subprocess.run(["nm", "-D", "--defined-only", os.path.join(build, "pam_otpgate.so")],
                        capture_output=True, text=True, check=True)
    names = sorted(line.split()[-1] for line in nm.stdout.splitlines() if line.strip())
    check(names == ["pam_sm_authenticate", "pam_sm_setcred"], f"dynamic symbols: {names}")


if os.geteuid() != 0:
    sys.exit("test_module.py must run as root: the module trusts only root-owned daemons")
for build in [BUILD, os.path.join(BUILD, "asan")]:
    print(f"== {build}")
    exports(build)
    table(build)
    trust(build)
    inputs(build)
print(f"{checks} checks, {len(failures)} failed")
sys.exit(1 if failures else 0)
