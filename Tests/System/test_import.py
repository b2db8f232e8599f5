#!/usr/bin/env python3
"""System tests of `otpgate admin import` and `otpgate resync`, against the peers.

Run as root (users, /etc/pam.d files):
    python3 Tests/System/test_import.py BIN_DIR      # holds otpgated and otpgate

Files are made by the real tools (google-authenticator, pam_oath through pamtester,
oathtool), the peers' PAM modules log in on them first, then otpgate imports them into
a real otpgated and the codes the peers accepted (or would accept now) are tried
there: accepted once, replays refused, HOTP counters continuing where the peer left
off. Every refusal is checked with its message, and --dry-run leaves the store's
bytes as they were (with a real import as the control that changes them). Uses the
helpers of test_logins.py (checks, clean-up, daemon, users, pam.d files).
"""
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_logins as T  # noqa: E402

from test_logins import check, cleanup, ENV, RUN, PREFIX  # noqa: E402

T.PACKAGES = ["pamtester", "oathtool", "libpam-google-authenticator", "libpam-oath"]
CLI = None
D = None


def cli(*args, stdin=None, user=None, timeout=60):
    argv = [CLI, *args]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=ENV, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def admin(*args, **kw):
    return cli(*args, "--socket", D.admin_socket, **kw)


def verify(user, code):
    r = T.rpc(D.socket, {"v": 1, "op": "verify", "user": user, "code": code})
    return "ok" if r.get("ok") else r.get("error")


def oathtool(*args):
    return subprocess.run(["oathtool", *args], capture_output=True, text=True, check=True, env=ENV).stdout.strip()


def store_bytes():
    """The store's content: the database and its WAL (the -shm index is scratch memory
    that readers update, not stored data)."""
    h = hashlib.sha256()
    d = os.path.join(D.dir, "store")
    for name in sorted(os.listdir(d)):
        if name.endswith("-shm"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def file_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def status(user):
    return T.rpc(D.admin_socket, {"v": 1, "op": "status", "user": user})


def write(path, text, mode=0o600, owner=None):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner:
        subprocess.run(["chown", owner, path], check=True)


# ------------------------------------------------------- google-authenticator ---


def ga_file(user, flags):
    path = f"/home/{user}/.google_authenticator"
    subprocess.run(["runuser", "-u", user, "--", "google-authenticator", *flags, "-f", "-q", "-Q", "NONE", "-s", path],
                   check=True, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with open(path) as f:
        lines = f.read().split("\n")
    return path, lines[0], [l for l in lines if len(l) == 8 and l.isdigit()]


def test_google_authenticator(root):
    ga = T.pam_service(f"{PREFIX}-ga", "auth required pam_google_authenticator.so\n")
    user = T.add_user("ga")
    path, secret, scratch = ga_file(user, ["-t", "-d", "-r", "3", "-R", "30", "-w", "3", "-e", "5"])
    code = T.totp(secret)
    T.expect_pam(ga, user, code, "ga: the peer's module accepts the current code", True)
    T.expect_pam(ga, user, scratch[0], "ga: the peer's module accepts a scratch code (and removes it)", True)
    with open(path) as f:
        check("DISALLOW_REUSE " in f.read(), "ga: the peer recorded the used step in DISALLOW_REUSE")

    before, source = store_bytes(), file_hash(path)
    rc, out = admin("admin", "import", "google-authenticator", "--dry-run", user)
    check(rc == 0 and "would be imported" in out and "dry run: nothing was changed" in out,
          "ga: --dry-run reports what would be imported", out)
    check(store_bytes() == before, "ga: --dry-run leaves the store byte-for-byte the same")
    rc, out = admin("admin", "import", "google-authenticator", user)
    check(rc == 0 and f"{user}  imported" in out and "RATE_LIMIT (3 logins per 30 s)" in out,
          "ga: the import reports the user imported and the rate limit it does not carry over", out)
    check(store_bytes() != before, "ga: control: a real import does change the store")
    check(file_hash(path) == source, "ga: the source file is not changed")

    check(verify(user, code) == "replayed_code", "ga: the step the peer used (DISALLOW_REUSE) is refused as a replay")
    later = T.next_code(secret)
    check(verify(user, later) == "ok", "ga: the next step's code is accepted")
    check(verify(user, later) == "replayed_code", "ga: ... once")
    check(verify(user, scratch[0]) == "invalid_code", "ga: the scratch code the peer used is refused")
    check(verify(user, scratch[1]) == "ok", "ga: an unused scratch code is accepted")
    check(verify(user, scratch[1]) == "invalid_code", "ga: ... once")
    check(status(user).get("scratch_remaining") == 3, "ga: status shows 3 scratch codes left", str(status(user)))
    events = D.audit(user)
    imported = [e for e in events if e["event"] == "token.imported"]
    check(len(imported) == 1 and path in imported[0].get("detail", ""), "ga: token.imported is audited with the source",
          str(events))
    dump = json.dumps(events) + D.log_tail(1000)
    check(secret not in dump and not any(s in dump for s in scratch), "ga: no secret or scratch code in audit or log")

    # --all-users finds the user's file through the password database (other users of
    # this machine may show up too, so only this user's row is checked).
    rc, out = admin("admin", "import", "google-authenticator", "--all-users", "--dry-run")
    check(f"{user}  would be skipped" in out, "ga: --all-users finds the file (and would skip the imported user)", out)

    # A user who has tokens: skipped, --add (name clash), --replace.
    rc, out = admin("admin", "import", "google-authenticator", user)
    check(rc == 0 and "skipped" in out and "already has 1 token" in out, "ga: a user with tokens is skipped", out)
    rc, out = admin("admin", "import", "google-authenticator", "--add", user)
    check(rc == 1 and "failed" in out and "already has a token named" in out, "ga: --add refuses a name clash", out)
    rc, out = admin("admin", "import", "google-authenticator", "--replace", user)
    check(rc == 0 and "imported (replacing 1)" in out, "ga: --replace imports over the old token", out)

    # HOTP: the counter continues where the peer left off.
    hotp_user = T.add_user("gah")
    _, hsecret, _ = ga_file(hotp_user, ["-c", "-r", "5", "-R", "30", "-w", "5", "-e", "2"])
    T.expect_pam(ga, hotp_user, oathtool("--hotp", "-b", "-c", "1", hsecret), "ga hotp: the peer accepts counter 1", True)
    rc, out = admin("admin", "import", "google-authenticator", hotp_user)
    check(rc == 0 and "WINDOW_SIZE 5" in out, "ga hotp: imported, with the window reported", out)
    check(verify(hotp_user, oathtool("--hotp", "-b", "-c", "1", hsecret)) == "replayed_code",
          "ga hotp: the counter the peer used is refused")
    check(verify(hotp_user, oathtool("--hotp", "-b", "-c", "2", hsecret)) == "ok", "ga hotp: the next counter is accepted")

    # STEP_SIZE 60, WINDOW_SIZE 17 and a TIME_SKEW of 20 steps (as the peer learns it
    # from a phone 20 minutes ahead): the peer accepts that phone's code, and so does
    # otpgated after the import, once; a code of the server's own time is refused.
    skewed = T.add_user("gas")
    spath, ssecret, _ = ga_file(skewed, ["-t", "-D", "-u", "-S", "60", "-w", "17", "-e", "1"])
    os.chmod(spath, 0o600)
    with open(spath, "a") as f:
        f.write('" TIME_SKEW 20\n')
    os.chmod(spath, 0o400)
    ahead = oathtool("--totp", "-s", "60", "-N", "now + 1200 seconds", "-b", ssecret)
    T.expect_pam(ga, skewed, ahead, "ga skew: the peer accepts the code of a clock 20 steps of 60 s ahead", True)
    rc, out = admin("admin", "import", "google-authenticator", skewed)
    check(rc == 0, "ga skew: imported", out)
    tokens = status(skewed).get("tokens", [{}])
    check(tokens[0].get("period") == 60 and tokens[0].get("skew") == 20, "ga skew: period 60 s and skew 20 kept", str(tokens))
    check(verify(skewed, ahead) == "ok" and verify(skewed, ahead) == "replayed_code",
          "ga skew: otpgated accepts the same code once")
    here = oathtool("--totp", "-s", "60", "-b", ssecret)
    check(verify(skewed, here) == "invalid_code", "ga skew: a code of the server's own time is outside the skewed window")

    # Awkward files: every refusal names the file and the reason, and changes nothing.
    odd = T.add_user("gax")
    home = f"/home/{odd}/.google_authenticator"
    good = f"{secret}\n\" TOTP_AUTH\n"
    before = store_bytes()

    def refused(what, reason):
        rc, out = admin("admin", "import", "google-authenticator", odd, timeout=30)
        check(rc == 1 and home in out and reason in out and "refused" in out, f"ga: {what} is refused: {reason}", out)

    write(home, good, 0o664, odd)
    refused("a group-writable file", "writable by group or others (mode 0664)")
    write(home, good, 0o600, "root")
    refused("a file owned by someone else", "belongs to uid 0")
    os.remove(home)
    write(home + ".real", good, 0o600, odd)
    os.symlink(home + ".real", home)
    refused("a symlink", "is a symbolic link; not followed")
    os.remove(home)
    os.mkfifo(home, 0o600)
    subprocess.run(["chown", odd, home], check=True)
    refused("a FIFO (without hanging)", "is a FIFO, not a regular file")
    os.remove(home)
    write(home, "", 0o600, odd)
    refused("an empty file", "the file is empty")
    write(home, "JBSWY3DPEHPK3PXP====\n\" TOTP_AUTH\n", 0o600, odd)
    refused("'=' padding", f"{home}:1: error: the secret is not base32 as google-authenticator reads it")
    check(store_bytes() == before, "ga: the refusals changed nothing in the store")

    # CRLF, trailing blanks and 8 digits through --path; the peer reads the same file.
    gadir = os.path.join(root, "ga")
    os.mkdir(gadir, 0o755)
    crlf = os.path.join(gadir, f"{odd}.ga")
    scratch_a, scratch_b = "12345678", "87654321"
    write(crlf, f"{secret}\r\n\" TOTP_AUTH\r\n\" STEP_SIZE 30 \r\n{scratch_a}\r\n{scratch_b} \r\n", 0o400, odd)
    crlf_service = T.pam_service(f"{PREFIX}-gacrlf", f"auth required pam_google_authenticator.so secret={gadir}/${{USER}}.ga\n")
    code = T.totp(secret)
    T.expect_pam(crlf_service, odd, code, "ga crlf: the peer's module accepts the code from the CRLF file", True)
    rc, out = admin("admin", "import", "google-authenticator", "--path", f"{gadir}/${{USER}}.ga", odd)
    check(rc == 0 and f"{crlf}:5: warning: not a scratch code as google-authenticator reads one" in out,
          "ga crlf: imported through --path; the code with a trailing blank reported with its line", out)
    check(verify(odd, code) == "ok" and verify(odd, code) == "replayed_code",
          "ga crlf: the code the peer accepted (reuse allowed there) is accepted once")
    check(verify(odd, scratch_b) == "invalid_code" and verify(odd, scratch_a) == "ok",
          "ga crlf: only the scratch codes the peer could read were imported")


# -------------------------------------------------------------------- pam_oath ---


def test_oath(root):
    path = os.path.join(root, "users.oath")
    k = [secrets.token_hex(20) for _ in range(7)]
    oa, ob, oc, od = (f"oath{t}-{RUN}" for t in "abcd")
    write(path, f"""# users.oath for the import test
HOTP\t{oa}\t-\t{k[0]}
HOTP/E/8  {oa}  -  {k[1]}  5
HOTP/T30  {ob}  -  {k[2]}
HOTP/T60/8 {ob} +  {k[3]}
HOTP/T30/7 {oc} -  {k[4]}
HOTP/E/7   {oc} -  {k[5]}
HOTP  {od}  s3cret-pin  {k[6]}
""")
    svc = T.pam_service(f"{PREFIX}-oath", f"auth required pam_oath.so usersfile={path} window=5\n")
    T.expect_pam(svc, oa, oathtool("--hotp", "-c", "0", k[0]), "oath: the peer accepts HOTP counter 0", True)
    totp_used = oathtool("--totp", k[2])
    T.expect_pam(svc, ob, totp_used, "oath: the peer accepts the current TOTP code", True)
    with open(path) as f:
        check(totp_used in f.read(), "oath: the peer wrote its last OTP into the file")
    os.chmod(path, 0o600)
    before, source = store_bytes(), file_hash(path)
    rc, out = admin("admin", "import", "oath", "--dry-run", "--json", path)
    check(rc == 1 and store_bytes() == before, "oath: --dry-run changes nothing", out)
    try:
        report = json.loads(out)
        rows = {r["user"]: r for r in report["users"]}
        check(rows[oa]["outcome"] == "imported" and rows[oa]["dry_run"] is True and rows[oa]["tokens"] == ["pam_oath", "pam_oath-2"]
              and od not in rows and any(i["line"] == 8 and i["severity"] == "error" for i in report["issues"]),
              "oath: --json reports each user, the refused line with its number", out)
    except (ValueError, KeyError) as e:
        check(False, "oath: --json output parses", f"{e!r}: {out}")
    rc, out = admin("admin", "import", "oath", path)
    check(rc == 1 and f"{path}:8: error: user {od}: a static PIN" in out and "s3cret" not in out,
          "oath: a static PIN line is refused with its line and reason (and the PIN not shown)", out)
    check(all(f"{u}  imported" in out for u in (oa, ob, oc)), "oath: the other users are imported", out)
    check(file_hash(path) == source, "oath: the usersfile is not changed")
    check(verify(oa, oathtool("--hotp", "-c", "0", k[0])) == "replayed_code", "oath: the counter the peer used is refused")
    check(verify(oa, oathtool("--hotp", "-c", "1", k[0])) == "ok", "oath: HOTP continues at the next counter")
    check(verify(oa, oathtool("--hotp", "-d", "8", "-c", "4", k[1])) == "replayed_code",
          "oath: HOTP/E/8 refuses counters before the file's")
    check(verify(oa, oathtool("--hotp", "-d", "8", "-c", "5", k[1])) == "ok", "oath: HOTP/E/8 accepts the file's counter")
    check(verify(ob, totp_used) == "replayed_code", "oath: the TOTP code the peer used is refused")
    check(verify(ob, T.next_code(base32(k[2]))) == "ok", "oath: HOTP/T30 accepts the next step")
    c60 = oathtool("--totp", "-s", "60", "-d", "8", k[3])
    check(verify(ob, c60) == "ok" and verify(ob, c60) == "replayed_code", "oath: HOTP/T60/8 accepted once")
    c7 = oathtool("--totp", "-d", "7", k[4])
    check(verify(oc, c7) == "ok" and verify(oc, c7) == "replayed_code", "oath: HOTP/T30/7 accepted once")
    check(verify(oc, oathtool("--hotp", "-d", "7", "-c", "0", k[5])) == "ok", "oath: HOTP/E/7 accepted")
    check(status(od).get("enrolled") is False, "oath: the static-PIN user is not enrolled")


def base32(hexkey):
    return base64.b32encode(bytes.fromhex(hexkey)).decode().rstrip("=")


# ----------------------------------------------------------- otpauth exports ---


def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def pb(field, value):
    if isinstance(value, int):
        return pb_varint(field << 3) + pb_varint(value)
    return pb_varint(field << 3 | 2) + pb_varint(len(value)) + value


def migration_uri(entries):
    """otpauth-migration://offline?data=… from the published MigrationPayload schema."""
    payload = b"".join(pb(1, e) for e in entries) + pb(2, 1) + pb(3, 1) + pb(4, 0) + pb(5, 7)
    return "otpauth-migration://offline?data=" + urllib.parse.quote(base64.b64encode(payload).decode(), safe="")


def test_otpauth(root):
    user = f"otpauth-{RUN}"
    keys = [secrets.token_bytes(20) for _ in range(4)]
    b32 = [base64.b32encode(x).decode().rstrip("=") for x in keys]
    entries = [pb(1, keys[2]) + pb(2, b"alice") + pb(3, b"Example") + pb(4, 1) + pb(5, 1) + pb(6, 2),
               pb(1, keys[3]) + pb(2, b"alice-ops") + pb(4, 3) + pb(5, 2) + pb(6, 2)]
    path = os.path.join(root, "uris.txt")
    write(path, f"otpauth://totp/Example:alice?secret={b32[0]}&issuer=Example&algorithm=SHA256&digits=8&period=60\r\n"
                f"otpauth://hotp/alice-hw?secret={b32[1]}&counter=3\n\n{migration_uri(entries)}\n")
    rc, out = admin("admin", "import", "otpauth", "--user", user, path)
    check(rc == 0 and f"{user}  imported" in out, "otpauth: two URIs and a migration export imported", out)
    for what, code in [("TOTP SHA256/8/60 s", oathtool("--totp=sha256", "-d", "8", "-s", "60", keys[0].hex())),
                       ("HOTP from counter 3", oathtool("--hotp", "-c", "3", keys[1].hex())),
                       ("migration TOTP SHA1", oathtool("--totp", keys[2].hex())),
                       ("migration TOTP SHA512/8", oathtool("--totp=sha512", "-d", "8", keys[3].hex()))]:
        check(verify(user, code) == "ok" and verify(user, code) == "replayed_code", f"otpauth: {what} accepted once")
    other = f"otpstdin-{RUN}"
    rc, out = admin("admin", "import", "otpauth", "--user", other, "-", stdin="otpauth://totp/x?secret=ABC\nnonsense\n")
    check(rc == 1 and "<stdin>:1: error:" in out and "<stdin>:2: error:" in out,
          "otpauth: bad lines on stdin are reported with their line numbers", out)


# ----------------------------------------------------------------------- PSKC ---

RFC6030_AES = """<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>
  <MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">
    <MACKey>
      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
      <xenc:CipherData><xenc:CipherValue>
      ESIzRFVmd4iZABEiM0RVZgKn6WjLaTC1sbeBMSvIhRejN9vJa2BOlSaMrR7I5wSX
      </xenc:CipherValue></xenc:CipherData>
    </MACKey>
  </MACMethod>
  <KeyPackage>
    <DeviceInfo><Manufacturer>Manufacturer</Manufacturer><SerialNo>987654321</SerialNo></DeviceInfo>
    <CryptoModuleInfo><Id>CM_ID_001</Id></CryptoModuleInfo>
    <Key Id="12345678" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <Issuer>Issuer</Issuer>
      <AlgorithmParameters><ResponseFormat Length="8" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret>
          <EncryptedValue>
            <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
            <xenc:CipherData><xenc:CipherValue>
            AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv
            </xenc:CipherValue></xenc:CipherData>
          </EncryptedValue>
          <ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc=</ValueMAC>
        </Secret>
        <Counter><PlainValue>0</PlainValue></Counter>
      </Data>
    </Key>
  </KeyPackage>
</KeyContainer>
"""


RFC6030_PBKDF2 = """<?xml version="1.0" encoding="UTF-8"?>
<pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:xenc11="http://www.w3.org/2009/xmlenc11#"
    xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"
    Version="1.0">
  <pskc:EncryptionKey>
    <xenc11:DerivedKey>
      <xenc11:KeyDerivationMethod Algorithm="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2">
        <pkcs5:PBKDF2-params>
          <Salt><Specified>Ej7/PEpyEpw=</Specified></Salt>
          <IterationCount>1000</IterationCount><KeyLength>16</KeyLength><PRF/>
        </pkcs5:PBKDF2-params>
      </xenc11:KeyDerivationMethod>
      <xenc:ReferenceList><xenc:DataReference URI="#ED"/></xenc:ReferenceList>
      <xenc11:MasterKeyName>My Password 1</xenc11:MasterKeyName>
    </xenc11:DerivedKey>
  </pskc:EncryptionKey>
  <pskc:MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">
    <pskc:MACKey>
      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
      <xenc:CipherData><xenc:CipherValue>2GTTnLwM3I4e5IO5FkufoOEiOhNj91fhKRQBtBJYluUDsPOLTfUvoU2dStyOwYZx</xenc:CipherValue></xenc:CipherData>
    </pskc:MACKey>
  </pskc:MACMethod>
  <pskc:KeyPackage>
    <pskc:DeviceInfo><pskc:Manufacturer>TokenVendorAcme</pskc:Manufacturer><pskc:SerialNo>987654321</pskc:SerialNo></pskc:DeviceInfo>
    <pskc:Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp" Id="123456">
      <pskc:AlgorithmParameters><pskc:ResponseFormat Length="8" Encoding="DECIMAL"/></pskc:AlgorithmParameters>
      <pskc:Data>
        <pskc:Secret>
          <pskc:EncryptedValue Id="ED">
            <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
            <xenc:CipherData><xenc:CipherValue>oTvo+S22nsmS2Z/RtcoF8Hfh+jzMe0RkiafpoDpnoZTjPYZu6V+A4aEn032yCr4f</xenc:CipherValue></xenc:CipherData>
          </pskc:EncryptedValue>
          <pskc:ValueMAC>LP6xMvjtypbfT9PdkJhBZ+D6O4w=</pskc:ValueMAC>
        </pskc:Secret>
        <pskc:Counter><pskc:PlainValue>0</pskc:PlainValue></pskc:Counter>
      </pskc:Data>
    </pskc:Key>
  </pskc:KeyPackage>
</pskc:KeyContainer>
"""


def test_pskc(root):
    user = f"pskc-{RUN}"
    path, key, wrong = (os.path.join(root, n) for n in ("tokens.pskc", "psk.hex", "wrong.hex"))
    write(path, RFC6030_AES, 0o644)
    write(key, "12345678901234567890123456789012\n")
    write(wrong, "12345678901234567890123456789013\n")
    rc, out = admin("admin", "import", "pskc", path, "--key-file", wrong, "--map", f"987654321={user}")
    # A wrong key mostly fails the MAC key's padding, otherwise the ValueMAC: both say so.
    check(rc == 1 and "wrong key" in out and status(user).get("enrolled") is False,
          "pskc: a wrong pre-shared key is refused (MAC check) and nothing is imported", out)
    rc, out = admin("admin", "import", "pskc", path, "--key-file", key)
    check(rc == 1 and "no user is mapped to it (--map 987654321=USER)" in out, "pskc: an unmapped serial is reported", out)
    rc, out = admin("admin", "import", "pskc", path, "--key-file", key, "--map", f"987654321={user}")
    check(rc == 0 and f"{user}  imported" in out, "pskc: RFC 6030's pre-shared-key example is imported", out)
    seed = b"12345678901234567890".hex()
    code = oathtool("--hotp", "-d", "8", "-c", "0", seed)
    check(verify(user, code) == "ok" and verify(user, code) == "replayed_code",
          "pskc: the token's first code (oathtool, counter 0) is accepted once")

    # RFC 6030 §6.2: the key derived from a password (PBKDF2), read from a file.
    other = f"pskcpw-{RUN}"
    derived, pw = os.path.join(root, "pbkdf2.pskc"), os.path.join(root, "pskc.password")
    write(derived, RFC6030_PBKDF2, 0o600)
    write(pw, "qwerty\n")
    rc, out = admin("admin", "import", "pskc", derived, "--map", f"987654321={other}")
    check(rc == 1 and "--password-file" in out, "pskc: a password-protected file without the password is refused", out)
    rc, out = admin("admin", "import", "pskc", derived, "--password-file", pw, "--map", f"987654321={other}")
    check(rc == 0 and f"{other}  imported" in out, "pskc: RFC 6030's PBKDF2 example is imported with its password", out)
    check(verify(other, code) == "ok" and verify(other, code) == "replayed_code", "pskc: its first code is accepted once")


# --------------------------------------------------------------------- resync ---


def test_resync(root):
    user = f"resync-{RUN}"
    key = secrets.token_bytes(20)
    b32 = base64.b32encode(key).decode().rstrip("=")
    rc, out = admin("admin", "import", "otpauth", "--user", user, "-", stdin=f"otpauth://totp/r?secret={b32}\n")
    check(rc == 0, "resync: a TOTP token imported", out)

    def at(seconds):
        return T.totp(b32, f"now {seconds:+d} seconds")

    def skew():
        tokens = status(user).get("tokens", [])
        return tokens[0].get("skew") if tokens else "?"

    check(verify(user, at(-30000)) == "invalid_code", "resync: a code 1000 steps behind is refused at login")
    for _ in range(3):
        verify(user, at(-30000 + 30 * _))
    check(skew() is None, "resync: a burst of far-off codes at login changes no drift")
    D.admin("admin.unlock", user=user)
    rc, out = admin("admin", "resync", user, stdin=f"{at(-3 * 86400)}\n{at(-3 * 86400 + 30)}\n")
    check(rc == 1 and "not consecutive codes" in out and skew() is None, "resync: codes outside the range change nothing", out)
    rc, out = admin("admin", "resync", user, stdin=f"{at(-30000)}\n{at(-29940)}\n")
    check(rc == 1 and skew() is None, "resync: two non-consecutive codes change nothing", out)
    rc, out = admin("admin", "resync", user, stdin=f"{at(-30000)}\n{at(-29970)}\n")
    check(rc == 0 and "999 steps" in out and "behind" in out and skew() == -999,
          "resync: two consecutive codes 1000 steps behind move the window there", out)
    check(verify(user, at(-29940)) == "ok", "resync: the device's next code is accepted at login")
    check(verify(user, at(-30000)) == "replayed_code", "resync: the codes before it stay refused")
    rc, out = admin("admin", "resync", user, stdin=f"{at(-36000)}\n{at(-35970)}\n")
    check(rc == 1 and "never moves a token back" in out and skew() == -999, "resync: never moves back past the watermark", out)
    rc, out = admin("admin", "show", user)
    check("drift of r:" in out and "-999 steps" in out, "resync: admin show shows the drift", out)
    check(any(e["event"] == "token.resynced" for e in D.audit(user)), "resync: audited as token.resynced")

    # A user resyncs their own HOTP token that ran 500 presses ahead.
    person = T.add_user("rs")
    hkey = secrets.token_bytes(20)
    hb32 = base64.b32encode(hkey).decode().rstrip("=")
    admin("admin", "import", "otpauth", "--user", person, "-", stdin=f"otpauth://hotp/hw?secret={hb32}&counter=0\n")
    codes = [oathtool("--hotp", "-c", str(c), hkey.hex()) for c in (500, 501, 502, 503)]
    check(verify(person, codes[3]) == "invalid_code", "resync: an HOTP code 503 presses ahead is refused at login")
    D.admin("admin.unlock", user=person)
    rc, out = cli("resync", "--socket", D.socket, stdin="\n".join(codes[:3]) + "\n", user=person)
    check(rc == 0 and "500 counters" in out, "resync: the user's own 'otpgate resync' with three HOTP codes", out)
    check(verify(person, codes[3]) == "ok" and verify(person, codes[2]) == "replayed_code",
          "resync: the next press is accepted, the resync codes are not")


def main():
    global CLI, D
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    bindir = os.path.abspath(sys.argv[1])
    CLI = os.path.join(bindir, "otpgate")
    if os.geteuid() != 0:
        sys.exit("test_import.py must run as root")
    T.ensure_packages()
    root = tempfile.mkdtemp(prefix=f"{PREFIX}-import-")
    interrupted = None
    try:
        cleanup.add(f"remove {root}", T.shutil.rmtree, root)
        os.chmod(root, 0o755)
        D = T.Daemon(os.path.join(bindir, "otpgated"), root, "import", "# the defaults\n")
        for name, test in [("google-authenticator", test_google_authenticator), ("pam_oath", test_oath),
                           ("otpauth", test_otpauth), ("pskc", test_pskc), ("resync", test_resync)]:
            try:
                test(root)
            except Exception as e:
                check(False, f"{name}: the scenario ran to its end", f"{type(e).__name__}: {e}")
        if T.failures:
            print(f"--- otpgated log, last lines:\n{D.log_tail(30)}", flush=True)
    except (KeyboardInterrupt, SystemExit) as e:
        interrupted = e
    finally:
        cleanup.run()
    print(f"{T.checks} checks, {len(T.failures)} failed, {time.monotonic() - T.started:.1f} s"
          + (", clean-up FAILED" if cleanup.failed else "") + (", INTERRUPTED" if interrupted is not None else ""), flush=True)
    return 1 if T.failures or cleanup.failed or interrupted is not None else 0


if __name__ == "__main__":
    sys.exit(main())
