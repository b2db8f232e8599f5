#!/usr/bin/env python3
"""How many plaintext copies of secrets a live otpgated holds (issue 13, item 10).

Run as root (gcore attaches to the daemon with ptrace):
    python3 Tests/System/test_memory_secrets.py OTPGATED_BINARY

Starts the real daemon on a temporary state directory and, over its sockets, enrols a
TOTP token for a throwaway user (enroll.begin, enroll.confirm with a real code, which
hands out recovery codes), regenerates the recovery codes, verifies a TOTP code and a
recovery code, imports a token with a secret of the test's choosing for a second user
and verifies a code of it. Then it takes a core of the running daemon with gcore and
counts, in the core, every secret the daemon saw: the raw secret bytes, their base32
text, the otpauth URI, each recovery code (as shown, XXXXX-XXXXX-XXXXX, and as
typed without separators), and the master key.

The scan has controls in the same run: the master key and the two user names (which
the store's SQLite page cache and the audit rows hold) must be found, and random
values the daemon never saw must not be, so a scan that reads nothing, or the wrong
process, cannot pass. The bounds are in BOUNDS, with why each is what it is; the
counts are printed either way (docs/SECURITY.md, "Secrets in memory", quotes them).

A Python script rather than a Swift test: it needs only the daemon binary, gcore and
oathtool, and the counting process holds none of the daemon's memory.
"""
import base64
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_logins as T  # noqa: E402

from test_logins import check, cleanup, ENV, RUN, PREFIX  # noqa: E402

T.PACKAGES = ["oathtool", "gdb"]

# The most copies of each kind of secret the core may hold once every reply is out.
# Why not 0 everywhere: see docs/SECURITY.md, "Secrets in memory".
BOUNDS = {
    # The keyring must hold it (MasterKey.bytes) to open any secret. OpenSSL's expanded
    # key, which begins with it, lives only during one AES operation and is cleansed
    # when its context is freed; so exactly one copy.
    "master key": (1, 1),
    # Nothing keeps a plaintext secret, URI or recovery code between requests: any
    # copy is a leak (each is wiped after use, and replies are written into wiped
    # memory).
    "raw secret (enrolled)": (0, 0),
    "base32 secret (enrolled)": (0, 0),
    "otpauth URI": (0, 0),
    "raw secret (imported)": (0, 0),
    "base32 secret (imported)": (0, 0),
    # The copies of the code found most often, with and without separators.
    "recovery code (most copies of one)": (0, 0),
}


def b32(raw):
    return base64.b32encode(raw).decode().rstrip("=")


def core_of(pid, root):
    """A core of the live process, taken without stopping it for good."""
    prefix = os.path.join(root, "core")
    r = subprocess.run(["gcore", "-o", prefix, str(pid)], capture_output=True, text=True, env=ENV, timeout=300)
    path = f"{prefix}.{pid}"
    if r.returncode != 0 or not os.path.exists(path):
        raise RuntimeError(f"gcore failed ({r.returncode}): {T.short(r.stdout + r.stderr)}")
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return without_zero_pages(data)


def without_zero_pages(data, page=4096, keep=64):
    """The core with each run of all-zero pages (untouched stacks and heap, most of
    it) cut to `keep` zero bytes: no value of up to `keep` bytes is found or lost by
    the cut, and counting gets ten times faster."""
    zero = bytes(page)
    parts = []
    start = None  # where the current run of non-zero pages began
    for offset in range(0, len(data), page):
        if data[offset:offset + page] == zero:
            if start is not None:
                parts.append(data[start:offset])
                parts.append(bytes(keep))
                start = None
        elif start is None:
            start = offset
    if start is not None:
        parts.append(data[start:])
    return b"".join(parts)


def run(binary, root):
    daemon = T.Daemon(binary, root, "memscan", "# the defaults\n")
    user = f"memscan-{RUN}-a"
    imported_user = f"memscan-{RUN}-b"

    # Enrolment, as a user's `otpgate enroll` does it (through the admin socket, so no
    # system user is needed).
    begin = daemon.admin("enroll.begin", user=user, kind="totp")
    check(begin.get("ok") is True, "enroll.begin", begin)
    secret_b32 = begin["secret"]
    uri = begin["uri"]
    raw = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    confirm = daemon.admin("enroll.confirm", user=user, enrollment=begin["enrollment"], code=T.totp(secret_b32))
    check(confirm.get("ok") is True and len(confirm.get("recovery_codes", [])) == 10,
          "enroll.confirm with the current code hands out 10 recovery codes", confirm)
    first_codes = confirm["recovery_codes"]

    regenerated = daemon.admin("recovery.regenerate", user=user)
    check(regenerated.get("ok") is True and len(regenerated.get("recovery_codes", [])) == 10,
          "recovery.regenerate hands out 10 new codes", regenerated)
    codes = regenerated["recovery_codes"]

    login = T.rpc(daemon.socket, {"v": 1, "op": "verify", "user": user, "code": T.next_code(secret_b32)})
    check(login.get("ok") is True and login.get("factor") == "totp", "verify accepts the next TOTP code", login)
    recovery = T.rpc(daemon.socket, {"v": 1, "op": "verify", "user": user, "code": codes[0]})
    check(recovery.get("ok") is True and recovery.get("factor") == "recovery", "verify accepts a recovery code", recovery)

    # An import carries a secret in the request line.
    imported_raw = secrets.token_bytes(20)
    imported_b32 = b32(imported_raw)
    imported = daemon.admin(
        "admin.import", user=imported_user, source="memscan test",
        tokens=[{"name": "phone", "kind": "totp", "algorithm": "SHA1", "digits": 6, "period": 30, "secret": imported_b32}])
    check(imported.get("ok") is True, "admin.import stores a token", imported)
    login = T.rpc(daemon.socket, {"v": 1, "op": "verify", "user": imported_user, "code": T.totp(imported_b32)})
    check(login.get("ok") is True, "verify accepts a code of the imported token", login)

    with open(os.path.join(daemon.dir, "master.key"), "rb") as f:
        master_key = f.read()
    check(len(master_key) == 32, "the master key file holds 32 bytes", len(master_key))

    started = time.monotonic()
    core = core_of(daemon.proc.pid, root)
    check(daemon.proc.poll() is None, "the daemon still runs after gcore")
    print(f"core: {len(core) / 2**20:.0f} MiB without zero pages, taken and read in {time.monotonic() - started:.1f} s", flush=True)

    def n(value):
        return core.count(value.encode() if isinstance(value, str) else value)

    # Controls: what the daemon must hold is found, what it never saw is not.
    check(n(user) >= 1 and n(imported_user) >= 1, "control: both user names are in the core",
          f"{n(user)}, {n(imported_user)}")
    never = secrets.token_bytes(20)
    never_code = "-".join(secrets.token_hex(3)[:5].upper() for _ in range(3))
    check(n(never) == 0 and n(b32(never)) == 0 and n(never_code) == 0,
          "control: random values the daemon never saw are not in the core")

    def per_code(code):
        return n(code) + n(code.replace("-", ""))

    all_codes = first_codes + codes
    counts = {
        "master key": n(master_key),
        "raw secret (enrolled)": n(raw),
        "base32 secret (enrolled)": n(secret_b32),
        "otpauth URI": n(uri),
        "raw secret (imported)": n(imported_raw),
        "base32 secret (imported)": n(imported_b32),
        "recovery code (most copies of one)": max(per_code(c) for c in all_codes),
    }
    total_codes = sum(per_code(c) for c in all_codes)
    dashed = sum(n(c) for c in all_codes)
    print(f"recovery codes: {total_codes} copies of the 20 codes in all ({dashed} as shown, "
          f"{total_codes - dashed} without separators); per code, enrolment's: "
          f"{[per_code(c) for c in first_codes]}, regenerated: {[per_code(c) for c in codes]} "
          f"(the first was typed to log in)", flush=True)
    for what, count in counts.items():
        low, high = BOUNDS[what]
        check(low <= count <= high, f"{what}: {count} in the core (bound {low}..{high})")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit("test_memory_secrets.py must run as root")
    binary = os.path.abspath(sys.argv[1])
    T.ensure_packages()
    root = tempfile.mkdtemp(prefix=f"{PREFIX}-memscan-")
    interrupted = None
    try:
        cleanup.add(f"remove {root}", shutil.rmtree, root)
        os.chmod(root, 0o755)
        try:
            run(binary, root)
        except Exception as e:
            check(False, "the scenario ran to its end", f"{type(e).__name__}: {e}")
    except (KeyboardInterrupt, SystemExit) as e:
        interrupted = e
    finally:
        cleanup.run()
    print(f"{T.checks} checks, {len(T.failures)} failed, {time.monotonic() - T.started:.1f} s"
          + (", clean-up FAILED" if cleanup.failed else "") + (", INTERRUPTED" if interrupted is not None else ""),
          flush=True)
    return 1 if T.failures or cleanup.failed or interrupted is not None else 0


if __name__ == "__main__":
    sys.exit(main())
