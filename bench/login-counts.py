#!/usr/bin/env python3
"""Deterministic per-login counts for otpgated binaries, side by side: a fresh
connection and one verify each (as pam_otpgate does), after 20 warm-up logins, the
binaries taking turns. For each login: voluntary context switches of all the daemon's
threads, their CPU time (schedstat), and (with --strace) futex calls, or (with
--callgrind) the daemon's instructions counted by valgrind (valgrind 3.19, as on
Debian 12, crashes on the Swift runtime: not usable here). Counts, not times, so that
the neighbours on a shared machine move them little; the median latency is printed
too, for what it is worth there.

Usage (as root): bench/login-counts.py [--logins N] [--gap-ms MS] [--rounds R]
                 [--strace | --callgrind] LABEL=OTPGATED ...
--gap-ms waits that long between logins, so the daemon is idle at each (as between
PAM logins on a real host)."""
import argparse, glob, json, os, re, statistics, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import otpgated_probe  # noqa: E402
from otpgated_probe import call, enrol, hotp  # noqa: E402
import tempfile  # noqa: E402


def ctx(pid):
    n = 0
    for f in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(f):
                if line.startswith("voluntary_ctxt_switches"):
                    n += int(line.split()[1])
        except OSError:
            pass
    return n


def cpu_ns(pid):
    """Time on a CPU of every thread (schedstat, nanoseconds)."""
    n = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            n += int(open(f).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return n


def start(argv, d):
    p = subprocess.Popen(argv + ["--state-dir", d + "/s"], stderr=open(d + "/err", "w"))
    for _ in range(1200):
        try:
            if call(d + "/s/otpgated.sock", {"v": 1, "op": "health"})["ok"]:
                return p
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{argv}: not ready; see {d}/err")


def measure(label, binary, args):
    d = tempfile.mkdtemp(prefix="perf-counts-")
    os.chmod(d, 0o755)
    argv = [binary]
    out = d + "/callgrind.out"
    if args.callgrind:
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"] + argv
    p = start(argv, d)
    secret = enrol(d)
    sock = d + "/s/otpgated.sock"
    for c in range(1, 21):
        call(sock, {"v": 1, "op": "verify", "user": "root", "code": hotp(secret, c)}, timeout=60)
    tracer = None
    if args.strace:
        tracer = subprocess.Popen(["strace", "-c", "-f", "-e", "trace=futex", "-o", d + "/strace", "-p", str(p.pid)],
                                  stderr=subprocess.DEVNULL)
        time.sleep(1)
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True, stdout=subprocess.DEVNULL)
    c0, t0 = ctx(p.pid), cpu_ns(p.pid)
    times = []
    for c in range(21, 21 + args.logins):
        if args.gap_ms:
            time.sleep(args.gap_ms / 1000)
        t = time.monotonic()
        r = call(sock, {"v": 1, "op": "verify", "user": "root", "code": hotp(secret, c)}, timeout=60)
        times.append((time.monotonic() - t) * 1000)
        assert r["ok"], r
    switches = (ctx(p.pid) - c0) / args.logins
    result = {"ctx": switches, "cpu_us": (cpu_ns(p.pid) - t0) / 1000 / args.logins, "ms": statistics.median(times)}
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True, stdout=subprocess.DEVNULL)
    if tracer:
        tracer.terminate()
        tracer.wait()
        calls = 0
        for line in open(d + "/strace"):
            f = line.split()
            if f and f[-1] == "futex":
                calls = int(f[3])
        result["futex"] = calls / args.logins
    p.terminate()
    p.wait()
    if args.callgrind:
        total = 0
        for f in glob.glob(out + "*"):
            for line in open(f):
                m = re.match(r"(?:summary|totals): (\d+)", line)
                if m:
                    total = max(total, int(m.group(1)))
        result["instructions"] = total / args.logins
    subprocess.run(["rm", "-rf", d])
    return result


def main():
    # Enrolment hashes ten recovery codes: on a loaded machine more than 5 s.
    otpgated_probe.call.__defaults__ = (60,)
    ap = argparse.ArgumentParser()
    ap.add_argument("--logins", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("daemons", nargs="+", metavar="LABEL=OTPGATED")
    args = ap.parse_args()
    daemons = [d.split("=", 1) for d in args.daemons]
    res = {label: [] for label, _ in daemons}
    for _ in range(args.rounds):
        for label, binary in daemons:
            res[label].append(measure(label, binary, args))
    summary = {}
    for label, rows in res.items():
        summary[label] = {k: [round(r[k], 2) if k == "ms" else round(r[k], 1) for r in rows] for k in rows[0]}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
