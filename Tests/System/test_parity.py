#!/usr/bin/env python3
"""Parity with pam_google_authenticator: the scenarios of google-authenticator-libpam's
unit test that mean something for otpgate, through the real pam_otpgate.so and a real
otpgated, each run beside pam_google_authenticator (Debian's libpam-google-authenticator)
on the same input: same user, same password, same TOTP secret, same options, same
stack around the module, same answers.

Run as root (a throwaway system user with a password for pam_unix, a daemon as root):
    python3 Tests/System/test_parity.py OTPGATED_BINARY PAM_BUILD_DIR

PAM_BUILD_DIR holds pam_otpgate.so and pam_driver (pam/build). Every stack is written
to a private directory and loaded with pam_start_confdir (pam/tests/pam_driver.c), so
nothing depends on the machine's /etc/pam.d. Where otpgate deliberately differs from
pam_google_authenticator the scenario says so (DIFFERS) and checks both sides' own
expected results; `differences()` at the end prints the list.
"""
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_logins as base  # noqa: E402  (one copy of the daemon, user and code helpers)

from test_logins import check, cleanup, next_code, wrong_code, ENV  # noqa: E402

GA_MODULE = "pam_google_authenticator.so"
PACKAGES = ["libpam-google-authenticator", "oathtool", "passwd"]
PASSWORD = "Pw-" + secrets.token_hex(6) + "-zq"  # ends in letters: never shaped like a code
DIFFERENCES = []


def ensure_packages():
    base.PACKAGES = PACKAGES
    base.ensure_packages()


class Stack:
    """Writes one service per peer into a private confdir and runs logins through
    pam_driver."""

    def __init__(self, root, driver, otp_module, daemon):
        self.dir = tempfile.mkdtemp(prefix="confdir-", dir=root)
        self.driver = driver
        self.otp = f"{otp_module} socket={daemon.socket} timeout=5"
        self.ga_dir = tempfile.mkdtemp(prefix="ga-", dir=root)
        self.ga = f"{GA_MODULE} secret={self.ga_dir}/${{USER}} user=root"
        self.count = 0

    def service(self, peer, template, options):
        """template: PAM lines with {MOD} for the module under test and its options."""
        self.count += 1
        name = f"{peer}-{self.count}"
        module = (self.otp if peer == "otpgate" else self.ga) + (" " + options if options else "")
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(template.replace("{MOD}", module))
        return name

    def login(self, service, user, answers, rhost=None, silent=False):
        argv = [self.driver, "auth", self.dir, service, user]
        for a in answers:
            argv += ["--answer", a]
        if rhost:
            argv += ["--rhost", rhost]
        if silent:
            argv.append("--silent")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=ENV)
        lines = out.stdout.splitlines()
        result = next((l[6:] for l in lines if l.startswith("stack=")), f"driver exit {out.returncode}: {out.stderr}")
        prompts = [l for l in lines if l.startswith("prompt=") or l.startswith("prompt_echo=")]
        messages = [l[4:] for l in lines if l.startswith("msg=")]
        return result, prompts, messages

    def write_ga(self, user, secret, scratch):
        """The user's google_authenticator file: the same secret as otpgate's token,
        TOTP with reuse disallowed (otpgate's replay rule), and scratch codes."""
        path = os.path.join(self.ga_dir, user)
        with open(path, "w") as f:
            f.write(secret + '\n" TOTP_AUTH\n" DISALLOW_REUSE\n' + "".join(c + "\n" for c in scratch))
        os.chmod(path, 0o600)

    def remove_ga(self, user):
        path = os.path.join(self.ga_dir, user)
        if os.path.exists(path):
            os.remove(path)


class Parity:
    def __init__(self, stack, daemon, user):
        self.stack, self.daemon, self.user = stack, daemon, user

    def fresh(self):
        """A new token for the user on both sides; returns (secret, recovery codes, scratch codes)."""
        self.daemon.admin("admin.reset", user=self.user)
        secret, recovery = self.daemon.enroll(self.user)
        scratch = [str(10000000 + secrets.randbelow(90000000)) for _ in range(5)]
        self.stack.write_ga(self.user, secret, scratch)
        return secret, recovery, scratch

    def unenrolled(self):
        self.daemon.admin("admin.reset", user=self.user)
        self.stack.remove_ga(self.user)

    def failures(self):
        users = self.daemon.admin("admin.list").get("users", [])
        return next((u.get("failures", 0) for u in users if u["user"] == self.user), 0)

    def both(self, what, template, options, answers, expected, prompts=None, rhost=None, ga_expected=None,
             ga_prompts=None, why=None, otp_answers=None):
        """Runs the same login on both peers. answers: a list, or a function of the
        peer name giving the list. expected: otpgate's result; pam_google_authenticator
        must give the same unless ga_expected says otherwise (a deliberate difference,
        explained in `why`)."""
        results = {}
        for peer in ["otpgate", "google-authenticator"]:
            service = self.stack.service(peer, template, options)
            a = answers(peer) if callable(answers) else answers
            results[peer] = self.stack.login(service, self.user, a, rhost=rhost)
        (r_otp, p_otp, m_otp), (r_ga, p_ga, _) = results["otpgate"], results["google-authenticator"]
        want_ga = ga_expected if ga_expected is not None else expected
        want_ga_prompts = ga_prompts if ga_prompts is not None else prompts
        check(r_otp == expected, f"{what}: otpgate {expected}", f"got {r_otp} prompts {p_otp} messages {m_otp}")
        check(r_ga == want_ga, f"{what}: pam_google_authenticator {want_ga}", f"got {r_ga} prompts {p_ga}")
        if prompts is not None:
            check(len(p_otp) == prompts, f"{what}: otpgate prompts {prompts} time(s)", str(p_otp))
        if want_ga_prompts is not None:
            check(len(p_ga) == want_ga_prompts, f"{what}: pam_google_authenticator prompts {want_ga_prompts} time(s)",
                  str(p_ga))
        if why is not None:
            DIFFERENCES.append(f"{what}: otpgate {expected} ({len(p_otp)} prompts), pam_google_authenticator "
                               f"{r_ga} ({len(p_ga)} prompts): {why}")
        return results


MOD_UNIX_TRY = "auth required {MOD}\nauth required pam_unix.so try_first_pass\n"
MOD_UNIX_USE = "auth requisite {MOD}\nauth required pam_unix.so use_first_pass\n"
UNIX_MOD = "auth requisite pam_unix.so\nauth required {MOD}\n"
ANY_UNIX_MOD_UNIX = "auth optional pam_unix.so\nauth requisite {MOD}\nauth required pam_unix.so use_first_pass\n"


def scenarios(p):
    S, F, I = "PAM_SUCCESS", "PAM_AUTH_ERR", "PAM_IGNORE"

    # --- nullok, without and with a token (unit test: "missing state files") ---
    p.unenrolled()
    p.both("nullok, no token: not prompted, the password alone logs in", MOD_UNIX_TRY, "nullok",
           [PASSWORD], S, prompts=1)
    p.both("nullok, no token, wrong password", MOD_UNIX_TRY, "nullok", ["wrong-password"], F, prompts=1)
    p.both("no nullok, no token: prompted, refused", MOD_UNIX_TRY, "", ["123456", PASSWORD], F, prompts=2)
    p.both("nullok forward_pass, no token: not prompted; pam_unix gets the whole password", MOD_UNIX_TRY,
           "nullok forward_pass", [PASSWORD], S, prompts=1)
    # An empty answer: not sent, not counted.
    p.fresh()
    before = p.failures()
    p.both("empty answer at the prompt", MOD_UNIX_TRY, "", ["", PASSWORD], F)
    p.both("five digits at the prompt", MOD_UNIX_TRY, "", ["12345", PASSWORD], F)
    check(p.failures() == before, "empty answer, five digits: not sent, no failure counted",
          f"{before} -> {p.failures()}")

    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("nullok, with a token: code then password", MOD_UNIX_TRY, "nullok", [code, PASSWORD], S, prompts=2)
    p.fresh()
    p.both("nullok, with a token, wrong code", MOD_UNIX_TRY, "nullok", [wrong_code(secret), PASSWORD], F)

    # --- forward_pass (unit test mode 1: "querying for verification code, forwarding system pass") ---
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("forward_pass: password+code, the password goes on", MOD_UNIX_USE, "forward_pass", [PASSWORD + code],
           S, prompts=1)
    secret, recovery, scratch = p.fresh()
    p.both("forward_pass: password+wrong code", MOD_UNIX_USE, "forward_pass", [PASSWORD + wrong_code(secret)], F)
    secret, recovery, scratch = p.fresh()
    p.both("forward_pass: wrong password+code", MOD_UNIX_USE, "forward_pass", ["nope" + next_code(secret)], F)
    secret, recovery, scratch = p.fresh()
    p.both("forward_pass: password+recovery (scratch) code", MOD_UNIX_USE, "forward_pass",
           lambda peer: [PASSWORD + (recovery[0] if peer == "otpgate" else scratch[0])], S, prompts=1)
    p.both("forward_pass: the same recovery (scratch) code again", MOD_UNIX_USE, "forward_pass",
           lambda peer: [PASSWORD + (recovery[0] if peer == "otpgate" else scratch[0])], F)
    p.both("forward_pass: password+recovery code without dashes, lower case", MOD_UNIX_USE, "forward_pass",
           lambda peer: [PASSWORD + (recovery[1].replace("-", "").lower() if peer == "otpgate" else scratch[1])], S)
    p.both("forward_pass: password alone from an enrolled user", MOD_UNIX_USE, "forward_pass", [PASSWORD], F)
    # One wrong combination is one failure, however many ways it splits.
    secret, recovery, scratch = p.fresh()
    before = p.failures()
    digits = "".join(str(secrets.randbelow(10)) for _ in range(2)) + wrong_code(secret)
    p.both("forward_pass: password ending in digits + wrong code (3 splits)", MOD_UNIX_USE, "forward_pass",
           [PASSWORD + digits], F)
    check(p.failures() == before + 1, "forward_pass: three splits counted as one failure",
          f"{before} -> {p.failures()}")
    # Control: the same three tails as separate verify requests count three.
    for tail in [digits[-6:], digits[-7:], digits[-8:]]:
        base.rpc(p.daemon.socket, {"v": 1, "op": "verify", "user": p.user, "code": tail})
    check(p.failures() == before + 4, "control: three verifies of those tails count three", f"{p.failures()}")
    p.daemon.admin("admin.unlock", user=p.user)

    # --- use_first_pass / try_first_pass (unit test modes 2-7) ---
    secret, recovery, scratch = p.fresh()
    before = p.failures()
    p.both("use_first_pass after pam_unix: the password is no code", UNIX_MOD, "use_first_pass", [PASSWORD], F,
           prompts=1)
    check(p.failures() == before, "use_first_pass: the password was neither sent nor counted",
          f"{before} -> {p.failures()}")
    code = next_code(secret)
    r = p.both("try_first_pass after pam_unix: the password is no code, so the module asks", UNIX_MOD,
               "try_first_pass", [PASSWORD, code], S, prompts=2)
    check(p.failures() == before, "try_first_pass: the password was neither sent nor counted",
          f"{before} -> {p.failures()}")
    for i in range(3):  # the migration mistake, three times
        p.stack.login(p.stack.service("otpgate", UNIX_MOD, "try_first_pass"), p.user, [PASSWORD, ""])
    check(p.failures() == before, "try_first_pass: three logins with the password burn nothing",
          f"{before} -> {p.failures()}")
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("use_first_pass forward_pass: the combined token from the first module", ANY_UNIX_MOD_UNIX,
           "use_first_pass forward_pass", [PASSWORD + code], S, prompts=1)
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("try_first_pass forward_pass: the combined token from the first module", ANY_UNIX_MOD_UNIX,
           "try_first_pass forward_pass", [PASSWORD + code], S, prompts=1)
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("try_first_pass forward_pass: no code in the first token, so the module asks", ANY_UNIX_MOD_UNIX,
           "try_first_pass forward_pass", [PASSWORD, PASSWORD + code], S, prompts=2)
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("use_first_pass: a code as the first module's token (pam_unix optional, fails)",
           "auth optional pam_unix.so\nauth required {MOD}\n", "use_first_pass", [code], S, prompts=1)
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("use_first_pass without forward_pass: password+code as the first token",
           "auth optional pam_unix.so\nauth required {MOD}\n", "use_first_pass", [PASSWORD + code], F,
           ga_expected=S, prompts=1,
           why="without forward_pass otpgate takes the previous token as a code only if all of it is one; "
               "pam_google_authenticator cuts 6 digits off any token, so a password that ends in 6 digits "
               "would be sent and counted as a guess")

    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    p.both("try_first_pass without forward_pass: password+code as the first token",
           "auth optional pam_unix.so\nauth required {MOD}\n", "try_first_pass",
           lambda peer: [PASSWORD + code, code] if peer == "otpgate" else [PASSWORD + code], S, prompts=2,
           ga_prompts=1, why="as with use_first_pass: otpgate does not cut a code off the previous token "
                             "without forward_pass, so it asks for the code")

    # --- counter-based (HOTP) codes (unit test: "counter-based login") ---
    p.daemon.admin("admin.reset", user=p.user)
    begin = p.daemon.admin("enroll.begin", user=p.user, kind="hotp")
    hotp = lambda counter: subprocess.run(["oathtool", "--hotp", "-b", "-c", str(counter), begin["secret"]],
                                          capture_output=True, text=True, check=True, env=ENV).stdout.strip()
    confirm = p.daemon.admin("enroll.confirm", user=p.user, enrollment=begin["enrollment"], code=hotp(0))
    check(confirm.get("ok") is True, "HOTP enrolment", str(confirm))
    p.stack.write_ga(p.user, begin["secret"] + '\n" HOTP_COUNTER 1', [])  # GA counts from 1, otpgate used 0
    p.both("HOTP: the next counter's code", MOD_UNIX_TRY, "", [hotp(1), PASSWORD], S, prompts=2)
    p.both("HOTP: the same code again", MOD_UNIX_TRY, "", [hotp(1), PASSWORD], F)
    p.both("HOTP: a code a few counters ahead", MOD_UNIX_TRY, "", [hotp(3), PASSWORD], S)

    # --- grace period ---
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    host, other = "192.0.2.7", "198.51.100.9"
    p.both("grace_period: first login from a host needs a code", MOD_UNIX_TRY, "grace_period=300",
           [code, PASSWORD], S, prompts=2, rhost=host)
    p.both("grace_period: a second login from that host needs none", MOD_UNIX_TRY, "grace_period=300",
           [PASSWORD], S, prompts=1, rhost=host)
    check(base.audit_has(p.daemon, p.user, "verify.grace", rhost=host), "grace_period: audited as verify.grace",
          str(p.daemon.audit(p.user)[-3:]))
    # Only root's precheck gets grace: a process of the user could claim any rhost.
    ask = ("import json,socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
           "s.sendall((json.dumps({'v':1,'op':'verify.precheck','user':sys.argv[2],'rhost':sys.argv[3],"
           "'grace_period':300})+'\\n').encode()); print(s.makefile().readline())")
    uid = pwd.getpwnam(p.user).pw_uid
    own = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-c", ask,
                          p.daemon.socket, p.user, host], capture_output=True, text=True, env=ENV)
    reply = json.loads(own.stdout or "{}")
    check(reply.get("ok") is True and reply.get("reason") == "enrolled" and reply.get("needs_code") is True,
          "grace_period: the user's own precheck claiming that host gets no grace", own.stdout + own.stderr)
    as_root = base.rpc(p.daemon.socket, {"v": 1, "op": "verify.precheck", "user": p.user, "rhost": host,
                                         "grace_period": 300})
    check(as_root.get("reason") == "grace", "control: root's precheck from that host gets grace", str(as_root))
    p.both("grace_period: another host needs a code", MOD_UNIX_TRY, "grace_period=300", ["", PASSWORD], F,
           prompts=2, rhost=other)
    p.both("grace_period: no remote host needs a code", MOD_UNIX_TRY, "grace_period=300", ["", PASSWORD], F,
           prompts=2)
    p.both("grace_period: a wrong code from the host (a stack without grace)", MOD_UNIX_TRY, "",
           [wrong_code(secret), PASSWORD], F, rhost=host)
    p.both("grace_period: after a failure from that host a code is needed again", MOD_UNIX_TRY,
           "grace_period=300", lambda peer: ["", PASSWORD] if peer == "otpgate" else [PASSWORD], F, prompts=2,
           ga_expected=S, ga_prompts=1, rhost=host,
           why="otpgate ends the grace of a host as soon as a wrong code comes from it; "
               "pam_google_authenticator keeps it until the period ends")
    # An admin reset ends it too (and it lives in the daemon, out of the user's reach).
    secret, recovery, scratch = p.fresh()
    p.stack.login(p.stack.service("otpgate", MOD_UNIX_TRY, "grace_period=300"), p.user, [next_code(secret), PASSWORD],
                  rhost=host)
    r, prompts, _ = p.stack.login(p.stack.service("otpgate", MOD_UNIX_TRY, "grace_period=300"), p.user,
                                  [PASSWORD], rhost=host)
    check(r == S and len(prompts) == 1, "grace_period: granted before the reset", f"{r} {prompts}")
    p.fresh()
    r, prompts, _ = p.stack.login(p.stack.service("otpgate", MOD_UNIX_TRY, "grace_period=300"), p.user,
                                  ["", PASSWORD], rhost=host)
    check(r == F and len(prompts) == 2, "grace_period: an admin reset ends it", f"{r} {prompts}")

    # --- echo_verification_code ---
    secret, recovery, scratch = p.fresh()
    r = p.both("echo_verification_code: the code prompt echoes", MOD_UNIX_TRY, "echo_verification_code",
               [next_code(secret), PASSWORD], S, prompts=2)
    for peer, (_, prompts, _) in r.items():
        check(prompts and prompts[0].startswith("prompt_echo="), f"echo_verification_code: {peer} echoes",
              str(prompts))
    secret, recovery, scratch = p.fresh()
    r = p.both("echo_verification_code forward_pass", MOD_UNIX_USE, "echo_verification_code forward_pass",
               [PASSWORD + next_code(secret)], S, prompts=1)
    check(r["otpgate"][1][0].startswith("prompt="), "echo_verification_code forward_pass: otpgate does not echo "
          "the password", str(r["otpgate"][1]))
    check(r["google-authenticator"][1][0].startswith("prompt_echo="),
          "echo_verification_code forward_pass: pam_google_authenticator echoes it", str(r["google-authenticator"][1]))
    DIFFERENCES.append("echo_verification_code with forward_pass: otpgate keeps the combined prompt echo-off, "
                       "pam_google_authenticator echoes it: the password would be shown")

    # --- messages (otpgate only: pam_google_authenticator shows none of these) ---
    secret, recovery, scratch = p.fresh()
    code = next_code(secret)
    svc = p.stack.service("otpgate", MOD_UNIX_TRY, "")
    p.stack.login(svc, p.user, [code, PASSWORD])
    r, _, messages = p.stack.login(svc, p.user, [code, PASSWORD])
    check(r == F and any("already used" in m for m in messages), "a replayed code says to wait for the next one",
          f"{r} {messages}")
    for i in range(7):
        r, _, messages = p.stack.login(svc, p.user, [recovery[i], PASSWORD])
    check(r == S and any("Only 3 left" in m for m in messages), "a recovery login warns when few are left",
          f"{r} {messages}")
    r, _, messages = p.stack.login(svc, p.user, [recovery[7], PASSWORD], silent=True)
    check(r == S and messages == [], "PAM_SILENT: no message", str(messages))


def deadline_scenarios(binary, root, stack_root, driver, module, user, group):
    """Enrolment deadline for required_groups: before it, a required user without a
    token logs in (nullok) and is told to enrol; after it, refused. No peer has it."""
    for when, expected in [("2099-01-01T00:00:00Z", "PAM_IGNORE"), ("2001-01-01T00:00:00Z", "PAM_AUTH_ERR")]:
        name = "deadline-" + when[:4]
        daemon = base.Daemon(binary, root, name, f'[policy]\nrequired_groups = ["{group}"]\n'
                                                 f'enrollment_deadline = "{when}"\n')
        stack = Stack(stack_root, driver, module, daemon)
        service = stack.service("otpgate", "auth required {MOD}\nauth required pam_permit.so\n", "nullok")
        r, prompts, messages = stack.login(service, user, ["123456"])
        if expected == "PAM_IGNORE":
            check(r == "PAM_SUCCESS" and prompts == [] and any("otpgate enroll" in m and when in m for m in messages),
                  "enrolment deadline ahead: not prompted, told to enrol before it", f"{r} {prompts} {messages}")
            check(base.audit_has(daemon, user, "verify.enrollment_pending"), "enrolment deadline ahead: audited",
                  str(daemon.audit(user)))
        else:
            check(r == "PAM_AUTH_ERR", "enrolment deadline passed: refused", f"{r} {prompts} {messages}")
        daemon.stop()


def main():
    if os.geteuid() != 0:
        sys.exit("test_parity.py must run as root")
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    driver, module = os.path.join(build, "pam_driver"), os.path.join(build, "pam_otpgate.so")
    ensure_packages()
    root = tempfile.mkdtemp(prefix="otpgate-parity-")
    os.chmod(root, 0o755)
    cleanup.add(f"remove {root}", shutil.rmtree, root, True)
    try:
        daemon = base.Daemon(binary, root, "main", "# the defaults\n")
        user = base.add_user("par")
        subprocess.run(["chpasswd"], input=f"{user}:{PASSWORD}\n", text=True, check=True, env=ENV)
        stack = Stack(root, driver, module, daemon)
        try:
            scenarios(Parity(stack, daemon, user))
        except Exception as e:
            check(False, "parity scenarios ran to their end", f"{type(e).__name__}: {e}")
        group = f"otpgpg{base.RUN}"
        subprocess.run(["groupadd", group], check=True, env=ENV)
        cleanup.add(f"remove group {group}", subprocess.run, ["groupdel", group])
        subprocess.run(["usermod", "-a", "-G", group, user], check=True, env=ENV)
        try:
            deadline_scenarios(binary, root, root, driver, module, user, group)
        except Exception as e:
            check(False, "deadline scenarios ran to their end", f"{type(e).__name__}: {e}")
        if base.failures:
            print(f"--- otpgated log, last lines:\n{daemon.log_tail(30)}", flush=True)
    finally:
        cleanup.run()
    print("Deliberate differences from pam_google_authenticator:")
    for d in DIFFERENCES:
        print("  - " + d)
    print(f"{base.checks} checks, {len(base.failures)} failed")
    return 1 if base.failures or cleanup.failed else 0


if __name__ == "__main__":
    sys.exit(main())
