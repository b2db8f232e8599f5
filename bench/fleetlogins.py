"""PAM logins for bench/fleet.py (issue 17): pamtester through a relay, directly on
a tier node, and with pam_google_authenticator, interleaved in random order in the
same run; pam_permit gives pamtester's own cost. As root: a temporary system user
(for google-authenticator's ~/.google_authenticator) and /etc/pam.d/otpgate-fleet-*
files, removed at the end (Tests/System/test_logins.py's helpers).

Each timed login is one `pamtester SERVICE USER authenticate` process fed a valid
code, timed from spawn to exit, and must succeed. otpgate: an HOTP token of that user
imported into the tier (a fresh counter per login, on whichever path), checked by the
tier node over PostgreSQL. google-authenticator: a fresh TOTP secret written before
each login (untimed), as `otpgate-bench peers` does, file rewritten with one fsync.
"""
import base64, os, pwd, random, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "System"))
import test_logins as T  # noqa: E402
import tierfixture  # noqa: E402

GA_MODULE = "/lib/x86_64-linux-gnu/security/pam_google_authenticator.so"
PEERS = ["pam_permit", "relay -> tier node", "tier node", "google-authenticator"]


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def run(admin_socket, relay_socket, node_socket, module, logins, warmup):
    """Returns {peer: [ms, ...]} or None (with the reason printed) when a piece is missing."""
    for path, fix in [(module, "make -C pam"), ("/usr/bin/pamtester", "apt-get install pamtester"),
                      (GA_MODULE, "apt-get install libpam-google-authenticator")]:
        if not os.path.exists(path):
            print(f"logins     skipped: {path} is missing ({fix})")
            return None
    try:
        user = T.add_user("fleet")
        pw = pwd.getpwnam(user)
        secret = os.urandom(20)
        reply = tierfixture.call(admin_socket, {
            "v": 1, "op": "admin.import", "user": user, "source": "bench/fleet.py", "mode": "replace",
            "tokens": [{"name": "pam", "secret": base64.b32encode(secret).decode().rstrip("="), "kind": "hotp", "counter": 0}]})
        if not reply.get("ok"):
            raise RuntimeError(f"import of {user}: {reply}")
        services = {
            "pam_permit": "auth required pam_permit.so\n",
            "relay -> tier node": f"auth required {module} socket={relay_socket}\n",
            "tier node": f"auth required {module} socket={node_socket}\n",
            "google-authenticator": "auth required pam_google_authenticator.so\n",
        }
        names = {p: T.pam_service(f"otpgate-fleet-{i}-{T.RUN}", text) for i, (p, text) in enumerate(services.items())}
        counter = [0]

        def prepare(peer):
            if peer == "pam_permit":
                return ""
            if peer == "google-authenticator":
                ga = os.urandom(20)
                path = os.path.join(pw.pw_dir, ".google_authenticator")
                if os.path.exists(path):
                    os.remove(path)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
                with os.fdopen(fd, "w") as f:
                    f.write(base64.b32encode(ga).decode().rstrip("=")
                            + '\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n')
                os.chown(path, pw.pw_uid, pw.pw_gid)
                return tierfixture.hotp(ga, int(time.time()) // 30)
            counter[0] += 1
            return tierfixture.hotp(secret, counter[0] - 1)

        samples = {p: [] for p in PEERS}
        for rnd in range(warmup + logins):
            order = list(PEERS)
            random.shuffle(order)
            for peer in order:
                code = prepare(peer)
                t0 = time.perf_counter()
                r = subprocess.run(["pamtester", names[peer], user, "authenticate"], input=code + "\n",
                                   capture_output=True, text=True, env=T.ENV)
                ms = (time.perf_counter() - t0) * 1000
                if r.returncode != 0:
                    raise RuntimeError(f"login {rnd} through {peer} failed: {r.stdout} {r.stderr}")
                if rnd >= warmup:
                    samples[peer].append(ms)
        return samples
    finally:
        T.cleanup.run()


def report(samples):
    m = {p: median(v) for p, v in samples.items()}
    base = m["pam_permit"]
    print(f"== PAM logins (pamtester), {len(samples['pam_permit'])} per module, shuffled interleaved rounds; medians in ms")
    for p in PEERS:
        v = sorted(samples[p])
        p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
        print(f"  {p:<22} median {m[p]:6.2f}  p90 {p90:6.2f}  over pam_permit {m[p] - base:+6.2f}")
    g, relay, node = m["google-authenticator"], m["relay -> tier node"], m["tier node"]
    print(f"  ratios (median): relay / google {relay / g:.2f}, tier node / google {node / g:.2f}, relay / tier node {relay / node:.2f}")
    return m
