#!/usr/bin/env python3
"""One otpgated binary under the floods of issue 13 (items 3 and 8): memory under a
client that pipelines and never reads (20 s), audit rows, store size and root logins
under a refusal flood (32 connections, 10 s) and a health flood (64 connections, 10 s),
both from one unprivileged uid. Run it for the old and the new binary one after the
other. Usage (as root): scripts/flood-figures.py OTPGATED LABEL UNPRIVILEGED_USER"""
import json, os, sqlite3, subprocess, sys, textwrap, time, statistics
from otpgated_probe import call, enrol, hotp, rss, start

binary, label, user = sys.argv[1], sys.argv[2], sys.argv[3]
LOADER = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../Tests/OTPGateDaemonTests/LoadClients.swift")).read()
LOADER = textwrap.dedent(LOADER[LOADER.index('#"""') + 4:LOADER.index('"""#')])

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

out = {"label": label}
def log(*a): print(*a, file=sys.stderr, flush=True)
# A: pipeline, never read, 20 s
p, d = start(binary); r0 = rss(p.pid)
l = loader(["pipeline", d + "/s/otpgated.sock", "20", "keep"], d); sent = json.loads(l.stdout.readline())
r1 = rss(p.pid); l.kill(); l.wait(); time.sleep(5); r2 = rss(p.pid)
out["pipeline"] = {"rss_before_mb": r0, "rss_during_mb": r1, "rss_5s_after_client_gone_mb": r2, "sent_mb_in_20s": round(sent["sent_bytes"] / 1e6, 1)}
p.terminate(); p.wait()
log("A", out)
# B: refusal flood 32 connections, 10 s, logins during
p, d = start(binary); secret = enrol(d); rows0, size0 = audit_rows(d), size(d)
l = loader(["flood", d + "/s/otpgated.sock", "10", "32", '{"v":1,"op":"admin.list"}'], d); l.stdout.readline()
counter, bad, med, mx = logins(d, secret, 0, 20)
rep = json.loads(l.stdout.readline()) if l.poll() is None or True else {}
l.wait(); time.sleep(1)
out["refusal_flood"] = {"refused": rep.get("counts"), "audit_rows_added": audit_rows(d) - rows0, "store_mb": [round(size0, 2), round(size(d), 2)],
                        "logins_failed_of_20": bad, "login_ms_median": round(med, 1), "login_ms_max": round(mx, 1)}
log("B", out)
# C: health flood 64 connections, 10 s
l = loader(["flood", d + "/s/otpgated.sock", "10", "64", '{"v":1,"op":"health"}'], d); l.stdout.readline()
counter, bad, med, mx = logins(d, secret, counter, 20)
rep = json.loads(l.stdout.readline()); l.wait()
out["health_flood"] = {"served": rep.get("replies"), "logins_failed_of_20": bad, "login_ms_median": round(med, 1), "login_ms_max": round(mx, 1)}
p.terminate(); p.wait()
print(json.dumps(out))
