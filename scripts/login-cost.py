#!/usr/bin/env python3
"""Per-login cost of two otpgated binaries, alternating: a fresh connection and one
verify each (as pam_otpgate does), 300 logins per round after 20 warm-up; voluntary
context switches of all the daemon's threads per login, and the median latency.
Usage (as root): scripts/login-cost.py OLD_OTPGATED NEW_OTPGATED"""
import base64, hashlib, hmac, json, os, socket, sqlite3, struct, subprocess, sys, tempfile, time, statistics


def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) // 1024
def call(path, obj, timeout=5):
    s = socket.socket(socket.AF_UNIX); s.settimeout(timeout); s.connect(path)
    s.sendall(json.dumps(obj).encode() + b"\n"); data = b""
    while not data.endswith(b"\n"):
        b = s.recv(65536)
        if not b: break
        data += b
    s.close(); return json.loads(data)
def hotp(secret, c):
    h = hmac.new(secret, struct.pack(">Q", c), hashlib.sha1).digest(); o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o+4])[0] & 0x7fffffff) % 1000000)

def start(binary):
    d = tempfile.mkdtemp(prefix="avail-meas-"); os.chmod(d, 0o755)
    p = subprocess.Popen([binary, "--state-dir", d + "/s"], stderr=open(d + "/err", "w"))
    for _ in range(300):
        try:
            if call(d + "/s/otpgated.sock", {"v": 1, "op": "health"})["ok"]: break
        except OSError: time.sleep(0.05)
    return p, d
def enrol(d):
    a = d + "/s/otpgated-admin.sock"
    b = call(a, {"v": 1, "op": "enroll.begin", "user": "root", "kind": "hotp"})
    secret = base64.b32decode(b["secret"] + "=" * (-len(b["secret"]) % 8))
    c = call(a, {"v": 1, "op": "enroll.confirm", "user": "root", "enrollment": b["enrollment"], "code": hotp(secret, 0)})
    assert c["ok"], c
    return secret
def loader(args, d):
    return subprocess.Popen(["setpriv", "--reuid=" + user, "--regid=" + user, "--clear-groups", "--", "python3", "-c", LOADER] + args,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
def logins(d, secret, counter, n=20):
    times, bad = [], 0
    for _ in range(n):
        counter += 1; t = time.monotonic()
        try:
            r = call(d + "/s/otpgated.sock", {"v": 1, "op": "verify", "user": "root", "code": hotp(secret, counter), "service": "sshd"}, timeout=2)
            if not r.get("ok"): bad += 1
        except OSError: bad += 1
        times.append((time.monotonic() - t) * 1000); time.sleep(0.2)
    return counter, bad, statistics.median(times), max(times)
def audit_rows(d):
    db = sqlite3.connect(f"file:{d}/s/store/otpgate.db?mode=ro", uri=True)
    n = db.execute("select count(*) from audit_events").fetchone()[0]; db.close(); return n
def size(d):
    return sum(os.path.getsize(f"{d}/s/store/" + f) for f in os.listdir(d + "/s/store")) / 1e6

import glob, statistics
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
