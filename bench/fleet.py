#!/usr/bin/env python3
"""The fleet's benchmark (issues 16 and 17): verifies through 1 and 3 tier daemons on
one PostgreSQL, side by side in the same run with pgbench sending the same SQL
(the bare cost), closed loop and open loop, interleaved in rounds; then verifies
through 2 relays beside the same two tier nodes asked directly; then PAM logins
through a relay, on a tier node and with pam_google_authenticator (fleetlogins.py).

    sudo python3 bench/fleet.py BINDIR [--users N] [--duration S] [--rounds R] ...

BINDIR holds otpgated (built with --traits Fleet) and otpgate-bench: use release
builds for figures (make bench-fleet). One PostgreSQL (Tests/System/pgfixture.py:
initdb in a temporary directory under --work, fsync on, synchronous_commit on, a
declared single node, Unix socket), three otpgated processes on it
(Tests/System/tierfixture.py), each its own role and pool. The population is
imported once through a fourth daemon's admin socket (`otpgate-bench populate`) and
ANALYZEd; the load is `otpgate-bench drive` (one thread per connection, in Swift);
the bare SQL is pgbench -M prepared with bench/fleet/verify-*.sql, the calls a
verify makes in the same mix (90 % valid: reserve_attempt + accept_code; 5 % wrong and
5 % replayed: reserve_attempt + record_failure).

For each pass: throughput, p50/p99 of the measured seconds, and the CPU per verify
of the daemons, of PostgreSQL (postmaster and backends) and of the load generator
(otpgate-bench or pgbench), each read from /proc over the same seconds. At the end:
the statements each role ran per verify (pg_stat_statements), so the bare cost is
shown to be the same SQL. The machine's load is printed first: compare only within
the run. Relays run in this network namespace and reach the tier's TLS listener on
loopback (Tests/System/test_relay.py puts them in namespaces of their own).
"""
import argparse, json, math, os, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "Tests", "System"))
from pgfixture import PgCluster, PG_BIN, free_port  # noqa: E402
import tierfixture  # noqa: E402
import fleetlogins  # noqa: E402

SCRIPTS = [("verify-valid.sql", 90), ("verify-wrong.sql", 5), ("verify-replay.sql", 5)]
MIX = "valid=90,wrong=5,replay=5"


def machine():
    load = open("/proc/loadavg").read().split()[:3]
    try:
        some = open("/proc/pressure/cpu").read().split("\n")[0]
        psi = [f for f in some.split() if f.startswith("avg10=")][0][6:]
    except (OSError, IndexError):
        psi = "?"
    return f"load {' '.join(load)}, cpu pressure (avg10) {psi}%, {os.cpu_count()} cpus"


def tree_cpu(root):
    """CPU seconds of root and its descendants alive now (as ProcessTreeCPU.swift)."""
    stats = []
    tick = os.sysconf("SC_CLK_TCK")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            text = open(f"/proc/{name}/stat").read()
        except OSError:
            continue
        f = text[text.rindex(")") + 2:].split()
        stats.append((int(name), int(f[1]), (int(f[11]) + int(f[12])) / tick))
    inside, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid, _ in stats:
            if pid not in inside and ppid in inside:
                inside.add(pid)
                grew = True
    return sum(s for pid, _, s in stats if pid in inside)


def percentile(sorted_values, q):
    """Nearest rank, as LatencySummary.swift."""
    if not sorted_values:
        return 0.0
    rank = math.ceil(q * len(sorted_values))
    return sorted_values[max(0, min(len(sorted_values) - 1, rank - 1))]


class Fleet:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bindir)
        self.bench = os.path.join(self.bin, "otpgate-bench")
        self.work = tempfile.mkdtemp(prefix="otpgate-fleet-", dir=args.work)
        os.chmod(self.work, 0o755)
        self.pg = None
        self.daemons = []
        self.relays = []
        self.importer = None

    def start(self):
        a = self.args
        self.pg = PgCluster(base=self.work, settings={
            "max_connections": "200", "shared_preload_libraries": "pg_stat_statements", "shared_buffers": "64MB"})
        self.pg.start()
        self.pg.bootstrap()
        self.pg.psql("CREATE EXTENSION pg_stat_statements")
        for role in ["importer", "node_1", "node_2", "node_3", "node_bare"]:
            self.pg.create_node_role(role)
        self.pg.psql("GRANT otpgate_admin TO importer", database="postgres")
        print(f"postgres   {PG_BIN}, fsync on, synchronous_commit on, single node, Unix socket {self.pg.sockets}", flush=True)

        # The importer makes the tier's key (first node) and seals the population.
        importer = tierfixture.Daemon(self.pg, "importer", self.work, bin=self.bin, deadline_ms=a.deadline, pool_size=a.pool)
        key = os.path.join(importer.dir, "s", "master.key")
        self.population = os.path.join(self.work, "population")
        t0 = time.monotonic()
        subprocess.run([self.bench, "populate", "--admin-socket", importer.admin, "--state-dir", self.population,
                        "--users", str(a.users), "--connections", "4"], check=True)
        print(f"population {a.users} TOTP users (period 1 s) imported in {time.monotonic() - t0:.1f} s", flush=True)
        # The importer stays up, idle, for the PAM logins' user (admin.import).
        self.importer = importer
        self.pg.psql("VACUUM ANALYZE")
        # Each node also listens for relays (TLS 1.3 on loopback, certificates from a CA
        # made here); idle while the relays are not driven.
        certs = os.path.join(self.work, "certs")
        os.mkdir(certs, 0o755)
        ca = tierfixture.FleetCA(certs)
        ports = {}
        for role in ["node_1", "node_2", "node_3"]:
            ports[role] = free_port()
            cert, tls_key = ca.issue(role.replace("_", "-"), ["127.0.0.1"])
            self.daemons.append(tierfixture.Daemon(
                self.pg, role, self.work, key=key, bin=self.bin, deadline_ms=a.deadline, pool_size=a.pool,
                extra=tierfixture.tier_listener_toml(ports[role], ca.ca, cert, tls_key)))
        print(f"tier       3 otpgated (pool_size {a.pool}, deadline {a.deadline} ms) on the same server", flush=True)
        if a.relay_connections:
            # Relay r asks node r first, then the other: each of two nodes is first for one.
            for r, order in [(1, ["node_1", "node_2"]), (2, ["node_2", "node_1"])]:
                cert, tls_key = ca.issue(f"relay-{r}")
                self.relays.append(tierfixture.Relay(
                    f"relay_{r}", self.work, [f"127.0.0.1:{ports[n]}" for n in order], cert, tls_key, ca.ca, bin=self.bin,
                    connections_per_endpoint=a.relay_connections))
            print(f"relays     2 otpgated in relay mode (connections_per_endpoint {a.relay_connections}), TLS to the tier "
                  "on loopback; relay 1 asks node_1 first, relay 2 node_2", flush=True)

    def stop(self):
        for d in self.relays + self.daemons + ([self.importer] if self.importer else []):
            try:
                d.stop()
            except Exception as e:  # noqa: BLE001 - report and go on cleaning up
                print(f"stopping {d.role}: {e}")
        if self.pg:
            self.pg.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)

    # -- passes -------------------------------------------------------------------

    def drive(self, daemons, label, rate, relays=(), connections=None):
        """drive against `relays` (if any, and then `daemons` are the nodes behind them)
        or `daemons`; CPU of the daemons, the relays and PostgreSQL."""
        a = self.args
        cmd = [self.bench, "drive", "--state-dir", self.population, "--connections", str(connections or a.connections),
               "--duration", str(a.duration), "--warmup", str(a.warmup), "--mix", MIX, "--label", label, "--json",
               "--cpu", f"postgres={self.pg.process.pid}"]
        for d in daemons:
            cmd += ["--cpu", f"daemon={d.process.pid}"] + ([] if relays else ["--socket", d.socket])
        for r in relays:
            cmd += ["--socket", r.socket, "--cpu", f"relay={r.process.pid}"]
        if rate:
            cmd += ["--rate", str(rate)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode not in (0, 1) or not r.stdout.strip():
            raise RuntimeError(f"drive failed ({r.returncode}): {r.stderr[-2000:]}")
        j = json.loads(r.stdout.strip().split("\n")[-1])
        lat = j["latency_ms"]
        us = j["cpu_us_per_verify"]
        bad = j["answers"]["unexpected"] + j["answers"]["other_errors"] + len(j["errors"])
        return {"label": label, "tps": j["throughput"], "p50": lat["p50"], "p99": lat["p99"], "p999": lat["p99.9"],
                "daemon_us": us.get("daemon", 0), "pg_us": us.get("postgres", 0), "relay_us": us.get("relay", 0),
                "client_us": j["cpu_cores"]["bench"] * 1e6 / max(j["throughput"], 1e-9), "bad": bad,
                "answers": j["answers"], "errors": j["errors"][:3], "machine": j["machine"]}

    def pgbench(self, label, rate, clients=None):
        a = self.args
        clients = clients or a.connections
        logdir = tempfile.mkdtemp(prefix="pgbench-", dir=self.work)
        os.chmod(logdir, 0o777)
        seconds = math.ceil(a.warmup + a.duration) + 1
        cmd = [os.path.join(PG_BIN, "pgbench"), "-h", self.pg.sockets, "-p", str(self.pg.port), "-U", "node_bare", "-n",
               "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds),
               "-D", "n=0", "-D", f"clients={clients}", "-D", f"per={a.users // clients}",
               "-l", "--log-prefix", os.path.join(logdir, "tx")]
        for script, weight in SCRIPTS:
            cmd += ["-f", f"{os.path.join(HERE, 'fleet', script)}@{weight}"]
        if rate:
            cmd += ["-R", str(rate)]
        cmd.append("otpgate")
        m = machine()
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=logdir, env=self.pg.env())
        time.sleep(a.warmup)
        w0 = time.time()
        cpu0 = (tree_cpu(self.pg.process.pid), tree_cpu(p.pid))
        time.sleep(a.duration)
        cpu1 = (tree_cpu(self.pg.process.pid), tree_cpu(p.pid))
        w1 = time.time()
        out, err = p.communicate(timeout=seconds + 60)
        if p.returncode != 0:
            raise RuntimeError(f"pgbench failed ({p.returncode}): {err[-2000:]}")
        # client_id transaction_no time script_no time_epoch time_us [schedule_lag]: time
        # is from the scheduled start under -R (the lag included), as drive counts it.
        latencies = []
        for name in os.listdir(logdir):
            with open(os.path.join(logdir, name)) as f:
                for line in f:
                    fields = line.split()
                    end = int(fields[4]) + int(fields[5]) / 1e6
                    if w0 <= end < w1:
                        latencies.append(int(fields[2]) / 1000.0)
        latencies.sort()
        tps = len(latencies) / (w1 - w0)
        errors = [line for line in err.split("\n") if "error" in line.lower()][:3]
        shutil.rmtree(logdir, ignore_errors=True)
        return {"label": label, "tps": tps, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
                "p999": percentile(latencies, 0.999), "daemon_us": 0.0, "relay_us": 0.0,
                "pg_us": (cpu1[0] - cpu0[0]) * 1e6 / max(len(latencies), 1),
                "client_us": (cpu1[1] - cpu0[1]) * 1e6 / max(len(latencies), 1), "bad": len(errors),
                "answers": None, "errors": errors, "machine": m, "started": t0}

    def statements(self):
        """Per role: the otpgate statements run and their calls, over the whole run."""
        rows = self.pg.psql(
            "SELECT r.rolname, s.calls, regexp_replace(s.query, '\\s+', ' ', 'g') FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid WHERE s.query LIKE '%otpgate.%' AND r.rolname LIKE 'node_%' "
            "ORDER BY 1, 2 DESC")
        by_role = {}
        for row in rows:
            role, calls, query = row.split("|", 2)
            name = query.split("otpgate.")[1].split("(")[0]
            by_role.setdefault(role, {})
            by_role[role][name] = by_role[role].get(name, 0) + int(calls)
        return by_role


def row_text(r, bare):
    ratio = r["tps"] / bare["tps"] if bare and bare["tps"] else float("nan")
    return (f"  {r['label']:<22} {r['tps']:8.0f}/s  x{ratio:4.2f}  p50 {r['p50']:7.2f}  p99 {r['p99']:7.2f}  "
            f"p99.9 {r['p999']:7.2f} ms   cpu/verify: " + (f"relays {r['relay_us']:5.0f}  " if r["relay_us"] else "")
            + f"daemons {r['daemon_us']:5.0f}  postgres {r['pg_us']:5.0f}  "
            f"client {r['client_us']:5.0f} µs" + (f"   BAD {r['bad']}: {r['errors']}" if r["bad"] else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bindir", nargs="?", default=os.path.join(REPO, ".build", "release"))
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rate", type=float, default=1000, help="open loop: verifies/s offered (0: no open-loop passes)")
    ap.add_argument("--pool", type=int, default=8, help="each daemon's pool_size")
    ap.add_argument("--deadline", type=int, default=2500, help="store.postgres.deadline, ms (the config's default)")
    ap.add_argument("--relay-connections", type=int, default=64,
                    help="each relay's connections_per_endpoint; 0: no relays (the relay passes use 2 x --connections)")
    ap.add_argument("--logins", type=int, default=100, help="timed PAM logins per module (0: none; needs the relays)")
    ap.add_argument("--login-warmup", type=int, default=10, help="untimed PAM logins per module first")
    ap.add_argument("--module", default=os.path.join(REPO, "pam", "build", "pam_otpgate.so"), help="pam_otpgate.so (make -C pam)")
    ap.add_argument("--work", default="/var/tmp", help="where PostgreSQL's data and the daemons' directories go (a real disk)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("fleet.py runs as root (PostgreSQL as nobody, the daemons as root, the bench verifies as uid 0)")
    print(f"machine    {machine()} (at start)", flush=True)
    fleet = Fleet(args)
    failed = False
    try:
        fleet.start()
        one, three = fleet.daemons[:1], fleet.daemons
        scenarios = [("closed loop, %d connections" % args.connections, None)]
        if args.rate:
            scenarios.append(("open loop, %.0f/s offered, %d connections" % (args.rate, args.connections), args.rate))
        summary = []
        for title, rate in scenarios:
            for rnd in range(args.rounds):
                passes = [("1 tier daemon", lambda l, r: fleet.drive(one, l, r)),
                          ("3 tier daemons", lambda l, r: fleet.drive(three, l, r)),
                          ("pgbench (bare SQL)", fleet.pgbench)]
                if rate is None and args.pool != args.connections:
                    # As many sessions as one daemon's pool: what the same SQL gives
                    # with that much parallelism in the server.
                    passes.append((f"pgbench, {args.pool} clients", lambda l, r: fleet.pgbench(l, r, args.pool)))
                # Each round starts with another pass, so none always runs first.
                passes = passes[rnd % len(passes):] + passes[:rnd % len(passes)]
                results = {}
                for label, run in passes:
                    results[label] = run(label, rate)
                    failed = failed or results[label]["bad"] > 0
                bare = results["pgbench (bare SQL)"]
                print(f"== {title}, round {rnd + 1} of {args.rounds}; machine at its start: "
                      f"{results[passes[0][0]]['machine']}", flush=True)
                for label in ["1 tier daemon", "3 tier daemons", "pgbench (bare SQL)"] + [l for l in results if "clients" in l]:
                    print(row_text(results[label], bare), flush=True)
                summary.append((title, rnd, results))
        relay_summary = []
        if fleet.relays:
            c2 = 2 * args.connections
            title = f"2 relays, {args.connections} connections each, closed loop"
            for rnd in range(args.rounds):
                passes = [("2 relays -> 2 nodes", lambda l: fleet.drive(three[:2], l, None, fleet.relays, c2)),
                          ("2 tier daemons direct", lambda l: fleet.drive(three[:2], l, None, (), c2))]
                passes = passes[rnd % 2:] + passes[:rnd % 2]
                results = {}
                for label, run in passes:
                    results[label] = run(label)
                    failed = failed or results[label]["bad"] > 0
                direct = results["2 tier daemons direct"]
                print(f"== {title}, round {rnd + 1} of {args.rounds}; machine at its start: "
                      f"{results[passes[0][0]]['machine']}; ratio to the same 2 nodes asked directly", flush=True)
                for label in ["2 relays -> 2 nodes", "2 tier daemons direct"]:
                    print(row_text(results[label], direct), flush=True)
                relay_summary.append((rnd, results))
        logins = None
        if fleet.relays and args.logins:
            samples = fleetlogins.run(fleet.importer.admin, fleet.relays[0].socket, fleet.daemons[0].socket,
                                      os.path.abspath(args.module), args.logins, args.login_warmup)
            if samples:
                logins = fleetlogins.report(samples)
        print("== statements per verify (pg_stat_statements, whole run; reserve_attempt = 1)")
        for role, calls in sorted(fleet.statements().items()):
            base = calls.get("reserve_attempt", 0) or 1
            print(f"  {role:<10} " + ", ".join(f"{k} {v / base:.3f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])))
        print("== summary: throughput as a ratio to pgbench in the same round; p99 ms")
        for title, rnd, results in summary:
            bare = results["pgbench (bare SQL)"]
            print(f"  {title}, round {rnd + 1}: 1 daemon x{results['1 tier daemon']['tps'] / bare['tps']:.2f} "
                  f"(p99 {results['1 tier daemon']['p99']:.2f}), 3 daemons x{results['3 tier daemons']['tps'] / bare['tps']:.2f} "
                  f"(p99 {results['3 tier daemons']['p99']:.2f}), pgbench {bare['tps']:.0f}/s (p99 {bare['p99']:.2f})")
        for rnd, results in relay_summary:
            relayed, direct = results["2 relays -> 2 nodes"], results["2 tier daemons direct"]
            print(f"  2 relays x {args.connections} connections, round {rnd + 1}: {relayed['tps']:.0f}/s (p99 {relayed['p99']:.2f}), "
                  f"x{relayed['tps'] / direct['tps']:.2f} of the same 2 nodes asked directly ({direct['tps']:.0f}/s, "
                  f"p99 {direct['p99']:.2f})")
        if logins:
            g = logins["google-authenticator"]
            print(f"  PAM login medians: relay {logins['relay -> tier node']:.2f} ms, tier node {logins['tier node']:.2f} ms, "
                  f"google-authenticator {g:.2f} ms: relay / google {logins['relay -> tier node'] / g:.2f}, "
                  f"tier node / google {logins['tier node'] / g:.2f}")
    finally:
        fleet.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
