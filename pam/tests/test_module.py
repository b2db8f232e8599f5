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
import socket
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

    def __init__(self, mode, as_user=None, precheck="enrolled"):
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
        argv = [sys.executable, script, mode, self.socket, self.log, precheck]
        if as_user:
            u = pwd.getpwnam(as_user)
            os.chown(self.dir, u.pw_uid, u.pw_gid)
            os.chown(self.log, u.pw_uid, u.pw_gid)
            argv = ["setpriv", f"--reuid={u.pw_uid}", f"--regid={u.pw_gid}", "--clear-groups"] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def requests(self):
        with open(self.log, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines() if line.strip()]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(build, socket_path, args="", answer="123456", user="alice", extra=(), raw=True, before="", after="",
        timeout="1"):
    """Runs the module once; returns (result, messages, output, seconds).

    raw: call pam_sm_authenticate directly on a handle from pam_start_confdir, to see
    its own return code; otherwise run the whole stack (`before`, the module,
    `after`) through pam_authenticate."""
    confdir = tempfile.mkdtemp(prefix="pam-conf-")
    # pam.d lines cannot name a path with white space: a link from confdir instead.
    module = os.path.join(confdir, "pam_otpgate.so")
    os.symlink(os.path.join(build, "pam_otpgate.so"), module)
    options = f"socket={socket_path} timeout={timeout} {args}".split()
    with open(os.path.join(confdir, "otpgate-test"), "w") as f:
        f.write(before + f"auth required {module} {' '.join(options)}\n" + after)
    argv = [os.path.join(build, "pam_driver"), "auth", confdir, "otpgate-test", user]
    for a in [answer] if isinstance(answer, str) else (answer or []):
        argv += ["--answer", a]
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


def lines(out, key):
    return [l[len(key) + 1:] for l in out.splitlines() if l.startswith(key + "=")]


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
             "float_v", "oversized", "no_newline", "nul", "after_nul", "v_overflow", "v_leading_zero",
             "v_minus_zero_one", "v_exponent", "bad_utf8", "overlong_utf8", "surrogate_utf8", "truncated_utf8",
             "duplicate_factor", "negative_remaining"]


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
        check(fake.requests()[-1]["codes"] == ["987654"], "forward_pass sent the wrong code")
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


def capture_script(directory):
    """A pam_exec expose_authtok script that writes what it is handed; returns
    (script, file it writes)."""
    handed = os.path.join(directory, "handed-on")
    script = os.path.join(directory, "capture.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\ncat > {handed}\n")
    os.chmod(script, 0o755)
    return script, handed


def handed_on(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        data = f.read().rstrip(b"\0")
    os.remove(path)
    return data.decode()


# verify.precheck: asked only with nullok or grace_period=; (precheck answer, module
# options, code answer mode, expected result, prompted?)
PRECHECK_TABLE = [
    ("not_enrolled", "nullok", "ok", "PAM_IGNORE", False),
    ("not_enrolled", "grace_period=60", "invalid", "PAM_AUTH_ERR", True),   # no nullok: always prompt
    ("pending", "nullok", "ok", "PAM_IGNORE", False),
    ("pending", "grace_period=60", "not_enrolled_required", "PAM_AUTH_ERR", True),
    ("grace", "grace_period=60", "invalid", "PAM_SUCCESS", False),
    ("grace", "nullok grace_period=60", "invalid", "PAM_SUCCESS", False),
    ("enrolled", "nullok", "ok", "PAM_SUCCESS", True),
    ("enrolled", "nullok", "invalid", "PAM_AUTH_ERR", True),
    ("required", "nullok", "not_enrolled_required", "PAM_AUTH_ERR", True),
    ("new_reason", "nullok", "invalid", "PAM_AUTH_ERR", True),               # unknown reason: prompt
    ("unknown_op", "nullok", "ok", "PAM_SUCCESS", True),                     # older daemon: prompt
    ("unknown_op", "nullok", "not_enrolled_optional", "PAM_IGNORE", True),
    ("no_needs_code", "nullok grace_period=60", "ok", "PAM_AUTHINFO_UNAVAIL", False),
    ("needs_code_string", "nullok grace_period=60", "ok", "PAM_AUTHINFO_UNAVAIL", False),
    ("unavailable", "nullok", "ok", "PAM_AUTHINFO_UNAVAIL", False),
    ("forbidden", "grace_period=60", "ok", "PAM_AUTHINFO_UNAVAIL", False),
]


def precheck(build):
    for answer, args, mode, expected, prompted in PRECHECK_TABLE:
        fake = Fake(mode, precheck=answer)
        try:
            result, messages, out, _ = run(build, fake.socket, args, extra=["--rhost", "192.0.2.7"])
            what = f"[{os.path.basename(build)}] precheck {answer} {args} {mode}"
            check(result == expected, f"{what}: {result}, expected {expected}")
            check(("prompt=" in out) == prompted, f"{what}: prompted {'prompt=' in out}, expected {prompted}")
            reqs = fake.requests()
            check(reqs and reqs[0]["op"] == "verify.precheck" and reqs[0]["rhost"] == "192.0.2.7",
                  f"{what}: first request {reqs[:1]}")
            grace = 60 if "grace_period=60" in args else None
            check(reqs and reqs[0].get("grace_period") == grace, f"{what}: grace_period sent {reqs[:1]}")
            check(len(reqs) == (2 if prompted else 1), f"{what}: {len(reqs)} requests")
            if answer == "pending" and "nullok" in args:
                check(any("2031-02-03T04:05:06Z" in m and "otpgate enroll" in m for m in messages),
                      f"{what}: no enrolment message: {messages}")
                result, messages, _, _ = run(build, fake.socket, args, extra=["--silent"])
                check(result == "PAM_IGNORE" and not messages, f"{what} --silent: {result} {messages}")
        finally:
            fake.stop()
    # Without nullok and grace_period= nothing is asked first.
    fake = Fake("ok", precheck="not_enrolled")
    try:
        result, _, out, _ = run(build, fake.socket, "")
        check(result == "PAM_SUCCESS" and [r["op"] for r in fake.requests()] == ["verify"],
              f"no precheck without nullok: {result} {fake.requests()}")
        # With nullok, the user who needs no code keeps the token the previous module
        # set; forward_pass does not prompt or touch it either.
        script, handed = capture_script(fake.dir)
        for args in ["nullok", "nullok forward_pass"]:
            result, _, out, _ = run(build, fake.socket, args, answer="first-password", raw=False,
                                    before="auth optional pam_unix.so\n",
                                    after=f"auth required pam_exec.so expose_authtok {script}\n")
            check(result == "PAM_SUCCESS" and out.count("prompt=") == 1, f"{args}: not enrolled: {result} {out}")
            check(handed_on(handed) == "first-password", f"{args}: PAM_AUTHTOK changed for a user without a token")
    finally:
        fake.stop()


def answers(build):
    """What is (not) sent: empty answers, passwords, combinations."""
    fake = Fake("invalid")
    try:
        for answer in ["", "hunter2", "12345", "123456789", " 123456", "12a456", "x" * 70]:
            result, _, _, _ = run(build, fake.socket, "", answer=answer)
            check(result == "PAM_AUTH_ERR", f"answer {answer[:10]!r}: {result}")
        check(fake.requests() == [], f"an answer that is no code reached the daemon: {fake.requests()}")
        for answer in ["123456", "123 456", "1234 5678", "ABCDE-FGHJK-MNPQR", "abcde fghjk mnpqr", "ABCDEFGHJKMNPQR"]:
            run(build, fake.socket, "", answer=answer)
            check(fake.requests()[-1].get("code") == answer, f"code {answer!r} not sent as typed")
        # A previous module's password that is no code: not sent (use_first_pass), or
        # the module asks (try_first_pass); never counted.
        before = "auth optional pam_unix.so\n"
        n = len(fake.requests())
        result, _, out, _ = run(build, fake.socket, "use_first_pass", answer="hunter22pw", raw=False, before=before)
        check(result == "PAM_AUTH_ERR" and out.count("prompt=") == 1 and len(fake.requests()) == n,
              f"use_first_pass with a password: {result} {fake.requests()[n:]}")
        result, _, out, _ = run(build, fake.socket, "try_first_pass", answer=["hunter22pw", "123456"], raw=False,
                                before=before)
        sent = fake.requests()[n:]
        check(out.count("prompt=") == 2 and [r.get("code") for r in sent] == ["123456"],
              f"try_first_pass with a password: asks, sends only the answer: {sent}")
        # A code-shaped token that is wrong: try_first_pass asks again (as the peers do).
        n = len(fake.requests())
        result, _, out, _ = run(build, fake.socket, "try_first_pass", answer=["654321", "123456"], raw=False,
                                before=before)
        check([r.get("code") for r in fake.requests()[n:]] == ["654321", "123456"] and result == "PAM_AUTH_ERR",
              f"try_first_pass with a wrong code: {fake.requests()[n:]}")
    finally:
        fake.stop()

    fake = Fake("ok")
    try:
        script, handed = capture_script(fake.dir)
        after = f"auth required pam_exec.so expose_authtok {script}\n"
        cases = [  # typed, candidates sent, password handed on (fake picks the 6-character one)
            ("s3cret!987654", ["987654"], "s3cret!"),
            ("abc12345678", ["345678", "2345678", "12345678"], "abc12"),
            ("123456", ["123456"], ""),
            ("pwABCDE-FGHJK-MNPQR", ["ABCDE-FGHJK-MNPQR"], "pw"),
            ("pwabcdefghjkmnpqr", ["abcdefghjkmnpqr"], "pw"),
            ("pw000000111111222", ["111222", "1111222", "11111222", "000000111111222"], "pw000000111"),
        ]
        for typed, codes, password in cases:
            n = len(fake.requests())
            result, _, _, _ = run(build, fake.socket, "forward_pass", answer=typed, raw=False, after=after)
            sent = fake.requests()[n:]
            check(result == "PAM_SUCCESS" and len(sent) == 1 and sent[0]["op"] == "verify.candidates"
                  and sent[0]["codes"] == codes, f"forward_pass {typed!r}: {result} {sent}")
            check(handed_on(handed) == password, f"forward_pass {typed!r}: handed on the wrong password")
        n = len(fake.requests())
        for typed in ["hunter22pw", "", "pw12345"]:
            result, _, _, _ = run(build, fake.socket, "forward_pass", answer=typed)
            check(result == "PAM_AUTH_ERR", f"forward_pass {typed!r} without a code: {result}")
        check(len(fake.requests()) == n, "forward_pass sent a string without a code-shaped tail")
        # use_first_pass forward_pass: the combined token comes from the previous module.
        result, _, out, _ = run(build, fake.socket, "use_first_pass forward_pass", answer="pw987654", raw=False,
                                before="auth optional pam_unix.so\n", after=after)
        check(result == "PAM_SUCCESS" and fake.requests()[-1]["codes"] == ["987654"] and out.count("prompt=") == 1,
              f"use_first_pass forward_pass: {result} {fake.requests()[-1]}")
        check(handed_on(handed) == "pw", "use_first_pass forward_pass handed on the wrong password")
        # echo_verification_code: the code prompt echoes; the combined prompt never does.
        _, _, out, _ = run(build, fake.socket, "echo_verification_code")
        check("prompt_echo=Verification code: " in out, f"echo_verification_code: {out}")
        _, _, out, _ = run(build, fake.socket, "echo_verification_code forward_pass", answer="pw123456")
        check("prompt=Password & verification code: " in out, f"echo with forward_pass: {out}")
    finally:
        fake.stop()

    fake = Fake("bad_candidate")
    try:
        result, _, _, _ = run(build, fake.socket, "forward_pass", answer="pw123456")
        check(result == "PAM_AUTHINFO_UNAVAIL", f"candidate index out of range: {result}")
    finally:
        fake.stop()


MESSAGES = [  # mode, expected result, a message that must be shown
    ("replayed", "PAM_AUTH_ERR", "already used. Wait for the next one"),
    ("ok_recovery", "PAM_SUCCESS", "Recovery code accepted; 9 left."),
    ("ok_recovery_few", "PAM_SUCCESS", "Only 2 left: run 'otpgate recovery-codes regenerate'"),
    ("ok_recovery_last", "PAM_SUCCESS", "That was your last one"),
    ("rate_limited", "PAM_MAXTRIES", "Try again in 37 seconds"),
    ("locked", "PAM_MAXTRIES", "Ask an administrator"),
]


def messages_and_delay(build):
    for mode, expected, text in MESSAGES:
        fake = Fake(mode)
        try:
            result, messages, out, _ = run(build, fake.socket, raw=False)
            check(result == expected and any(text in m for m in messages), f"{mode}: {result} {messages}")
            result, messages, _, _ = run(build, fake.socket, raw=False, extra=["--silent"])
            check(result == expected and not messages, f"{mode} --silent: {result} {messages}")
            delays = [int(d.split()[0]) for d in lines(out, "delay")]
            if expected == "PAM_SUCCESS":
                check(all(d == 0 for d in delays), f"{mode}: a success was delayed: {delays}")
            else:
                check(any(d > 0 for d in delays), f"{mode}: no fail delay requested: {out}")
        finally:
            fake.stop()
    fake = Fake("ok")
    try:
        _, _, out, _ = run(build, fake.socket, raw=False)
        check(all(d.startswith("0 ") for d in lines(out, "delay")), f"a success was delayed: {lines(out, 'delay')}")
    finally:
        fake.stop()


def system_calls(build):
    """Descriptors, name lookups, the clock and a full listen queue."""
    fake = Fake("ok")
    try:
        # fd 0 closed: a new descriptor would land there; the module's must not.
        result, _, out, _ = run(build, fake.socket, extra=["--close-stdin"])
        fds = [int(c.split()[0]) for c in lines(out, "connect")]
        check(lines(out, "lowest_free_fd") == ["0"], f"control: descriptor 0 is not free: {out}")
        check(result == "PAM_SUCCESS" and fds and all(fd >= 3 for fd in fds), f"socket descriptor {fds}: {result}")
        # Root's socket and root's peer: no lookup of the otpgate user.
        result, _, out, _ = run(build, fake.socket)
        check(result == "PAM_SUCCESS" and lines(out, "getpwnam") == [], f"getpwnam on the root path: {out}")
        # A socket file of another uid: looked up (and refused, no such user here or
        # not that uid).
        nobody = pwd.getpwnam("nobody")
        os.chown(fake.socket, nobody.pw_uid, nobody.pw_gid)
        result, _, out, _ = run(build, fake.socket)
        check(result == "PAM_AUTHINFO_UNAVAIL" and lines(out, "getpwnam") == ["otpgate"],
              f"control: a non-root owner is looked up: {result} {lines(out, 'getpwnam')}")
        os.chown(fake.socket, 0, 0)
        # The monotonic clock fails: no deadline, so no request; fail closed at once.
        if os.path.basename(build) != "asan":  # the sanitizer runtime reads the clock itself
            n = len(fake.requests())
            result, _, out, elapsed = run(build, fake.socket, extra=["--clock-fails"])
            check(result == "PAM_AUTHINFO_UNAVAIL" and len(fake.requests()) == n and elapsed < 3,
                  f"clock_gettime failing: {result} after {elapsed:.1f} s")
            check(any("monotonic clock" in l for l in lines(out, "log")), f"clock failure not logged: {out}")
    finally:
        fake.stop()

    # A daemon whose listen queue is full: the module retries (EAGAIN), logs "busy",
    # and gets through once the daemon accepts; the control never accepts and times out.
    for release in [True, False]:
        fake = Fake("backlog")
        fillers = []
        try:
            while True:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(fake.socket)
                    fillers.append(s)
                except BlockingIOError:
                    s.close()
                    break
            check(fillers, "control: the backlog took no connection at all")
            confdir = tempfile.mkdtemp(prefix="pam-conf-")
            with open(os.path.join(confdir, "x"), "w") as f:
                f.write("auth required pam_permit.so\n")
            argv = [os.path.join(build, "pam_driver"), "auth", confdir, "x", "alice",
                    "--answer", "123456", "--raw", os.path.join(build, "pam_otpgate.so"),
                    f"socket={fake.socket}", "timeout=2" if not release else "timeout=20"]
            driver = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            out = []
            for line in driver.stdout:
                out.append(line)
                if line.startswith("connect=") and "EAGAIN" in line:
                    break
            check(any("EAGAIN" in l for l in out), f"control: the module never saw a full queue: {out}")
            if release:
                for f in fillers:
                    f.close()
                fillers = []
                fake.proc.stdin.write("go\n")
                fake.proc.stdin.flush()
            rest = driver.stdout.read()  # not communicate(): it would skip what the loop above buffered
            driver.wait(timeout=30)
            shutil.rmtree(confdir)
            out = "".join(out) + rest
            expected = "PAM_SUCCESS" if release else "PAM_AUTHINFO_UNAVAIL"
            check(f"raw={expected}" in out, f"full listen queue, release={release}: {out[-600:]}")
            check(any("busy" in l for l in lines(out, "log")), f"'daemon busy' not logged: {out}")
            if not release:
                check(any("daemon busy" in l for l in lines(out, "log")), f"no give-up line: {lines(out, 'log')}")
        finally:
            for f in fillers:
                f.close()
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
    precheck(build)
    answers(build)
    messages_and_delay(build)
    system_calls(build)
print(f"{checks} checks, {len(failures)} failed")
sys.exit(1 if failures else 0)
