#!/usr/bin/env python3
"""Per-login cost of two otpgated binaries, alternating: a fresh connection and one
verify each (as pam_otpgate does), 300 logins per round after 20 warm-up; voluntary
context switches of all the daemon's threads per login, and the median latency.
Usage (as root): scripts/login-cost.py OLD_OTPGATED NEW_OTPGATED"""
import glob, json, subprocess, sys, time, statistics
from otpgated_probe import call, enrol, hotp, start


def ctx(pid):
    n = 0
    for f in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for l in open(f):
                if l.startswith("voluntary_ctxt_switches"): n += int(l.split()[1])
        except OSError: pass
    return n
bins = {"old": sys.argv[1], "new": sys.argv[2]}
res = {k: {"ctx": [], "ms": []} for k in bins}
for rnd in range(3):
    for k, b in bins.items():
        p, d = start(b); secret = enrol(d); sock = d + "/s/otpgated.sock"
        for c in range(1, 21): call(sock, {"v": 1, "op": "verify", "user": "root", "code": hotp(secret, c)})
        c0 = ctx(p.pid); times = []
        for c in range(21, 321):
            t = time.monotonic(); r = call(sock, {"v": 1, "op": "verify", "user": "root", "code": hotp(secret, c)})
            times.append((time.monotonic() - t) * 1000); assert r["ok"], r
        res[k]["ctx"].append((ctx(p.pid) - c0) / 300); res[k]["ms"].append(statistics.median(times))
        p.terminate(); p.wait(); subprocess.run(["rm", "-rf", d])
print(json.dumps({k: {"ctx_per_login": [round(x, 1) for x in v["ctx"]], "median_ms": [round(x, 2) for x in v["ms"]]} for k, v in res.items()}))
