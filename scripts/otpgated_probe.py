"""Helpers shared by the measuring scripts (flood-figures.py, login-cost.py): a
throwaway otpgated on a temporary state directory, one JSON line over its socket, an
enrolled HOTP token for root, and the daemon's memory. Not a test fixture: the tests
have their own in Tests/."""
import base64, hashlib, hmac, json, os, socket, struct, subprocess, tempfile, time


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
    """otpgated on a fresh state directory, once it answers health: (process, directory)."""
    d = tempfile.mkdtemp(prefix="avail-meas-"); os.chmod(d, 0o755)
    p = subprocess.Popen([binary, "--state-dir", d + "/s"], stderr=open(d + "/err", "w"))
    for _ in range(300):
        try:
            if call(d + "/s/otpgated.sock", {"v": 1, "op": "health"})["ok"]: break
        except OSError: time.sleep(0.05)
    return p, d


def enrol(d):
    """An HOTP token for root through the admin socket; returns its secret."""
    a = d + "/s/otpgated-admin.sock"
    b = call(a, {"v": 1, "op": "enroll.begin", "user": "root", "kind": "hotp"})
    secret = base64.b32decode(b["secret"] + "=" * (-len(b["secret"]) % 8))
    c = call(a, {"v": 1, "op": "enroll.confirm", "user": "root", "enrollment": b["enrollment"], "code": hotp(secret, 0)})
    assert c["ok"], c
    return secret
