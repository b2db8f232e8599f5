#!/usr/bin/env python3
"""Can a caller tell enrolled users from unknown ones by the time a verify takes?

    scripts/timing-probe.py PATH/TO/otpgated [--samples 2000]

Starts the given otpgated on a temporary --state-dir, enrols one user (TOTP, the
default, with recovery codes), then sends, alternately on one connection each, the same guess for
that user and for a name the store does not know, and records each round trip.
Two guesses: a wrong 6-digit code, and a recovery-code-shaped one. For each it
prints the medians, Welch's t and the two-sample Kolmogorov-Smirnov statistic with
its asymptotic p-value: |t| < 2 and p > 0.05 mean that this many samples do not
tell the two apart. As root it asks on the public socket, like the PAM module. docs/SECURITY.md and
docs/PERFORMANCE.md quote its output.
"""
import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s, s.makefile("rb")


def call(conn, op, **fields):
    s, reader = conn
    fields.update(v=1, op=op)
    s.sendall((json.dumps(fields) + "\n").encode())
    line = reader.readline()
    if not line:
        raise SystemExit(f"daemon closed the connection on {op}")
    return json.loads(line)


def hotp(secret_b32, counter, digits=6):
    import base64, hashlib, hmac, struct
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def ks(a, b):
    """Two-sample Kolmogorov-Smirnov D and its asymptotic p-value."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            i += 1
        else:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    n = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, max(0.0, min(1.0, p))


def welch(a, b):
    va, vb = statistics.variance(a), statistics.variance(b)
    return (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va / len(a) + vb / len(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("otpgated")
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="otpgate-timing-")
    os.chmod(work, 0o755)
    state = os.path.join(work, "state")
    config = os.path.join(work, "otpgated.toml")
    with open(config, "w") as f:
        f.write("[limiter]\nfree_per_user = 1000\nfree_per_host = 1000\nlockout_failures = 100\n")
    log = open(os.path.join(work, "stderr.log"), "w")
    daemon = subprocess.Popen([args.otpgated, "--state-dir", state, "--config", config],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        sock = os.path.join(state, "otpgated.sock")
        admin_sock = os.path.join(state, "otpgated-admin.sock")
        deadline = time.monotonic() + 30
        while True:  # a benchmark, not a test: polling for the socket is fine here
            try:
                if call(connect(sock), "health").get("ok"):
                    break
            except OSError:
                pass
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("otpgated did not start; see " + log.name)
            time.sleep(0.05)
        admin = connect(admin_sock)
        begun = call(admin, "enroll.begin", user="enrolled")  # the default: TOTP, SHA1, 6 digits, 30 s
        done = call(admin, "enroll.confirm", user="enrolled", enrollment=begun["enrollment"],
                    code=hotp(begun["secret"], int(time.time()) // 30))
        assert done.get("ok") and len(done.get("recovery_codes", [])) == 10, done

        # Root asks on the public socket, as the PAM module does; anyone else (the
        # daemon then runs as them) on the admin socket, which serves its own uid.
        verify_sock = sock if os.geteuid() == 0 else admin_sock
        enrolled, unknown = connect(verify_sock), connect(verify_sock)
        guesses = {
            "wrong 6-digit code": "000000",  # a 1-in-330,000 chance of being right; rerun then
            "recovery-shaped guess": "ZZZZZ-ZZZZZ-ZZZZZ",
        }
        for label, guess in guesses.items():
            times = {"enrolled": [], "unknown": []}
            for i in range(args.samples + 50):
                if i % 40 == 0:  # stay below the lockout, untimed (a fresh connection: idle ones time out)
                    call(connect(admin_sock), "admin.unlock", user="enrolled")
                order = [("enrolled", enrolled, "enrolled"), ("unknown", unknown, "nobody-%d" % (i % 7))]
                if i % 2:
                    order.reverse()
                for key, conn, user in order:
                    t0 = time.perf_counter_ns()
                    reply = call(conn, "verify", user=user, code=guess)
                    elapsed = (time.perf_counter_ns() - t0) / 1e6
                    expected = "invalid_code" if key == "enrolled" else "not_enrolled"
                    assert reply.get("error") == expected, reply
                    if i >= 50:  # the first 50 pairs warm up caches
                        times[key].append(elapsed)
            a, b = times["enrolled"], times["unknown"]
            d, p = ks(a, b)
            print(f"{label}: {args.samples} samples each; median enrolled {statistics.median(a):.3f} ms, "
                  f"unknown {statistics.median(b):.3f} ms; Welch t = {welch(a, b):.2f}; KS D = {d:.3f}, p = {p:.3f}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
