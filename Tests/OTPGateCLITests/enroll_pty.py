#!/usr/bin/python3
"""Drives `otpgate enroll` through a pseudo-terminal, as a person at an 80-column
terminal would, for EnrolmentTests.swift. Prints one JSON object: the transcript
(everything the terminal showed), the codes typed, the key read off the screen and the
exit status. The Swift test makes the judgements; this script only types.

    enroll_pty.py OTPGATE SOCKET confirm   # a wrong code, then oathtool's code
    enroll_pty.py OTPGATE SOCKET eof       # LANG=C (ASCII QR code), then end of input
"""
import base64
import hashlib
import hmac
import io
import json
import os
import re
import struct
import subprocess
import sys
import time

import pexpect

otpgate, socket_path, mode = sys.argv[1:4]
env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
env["LANG"] = "C.UTF-8" if mode == "confirm" else "C"
env["TERM"] = "xterm"

child = pexpect.spawn(otpgate, ["enroll", "--socket", socket_path], env=env,
                      encoding="utf-8", dimensions=(60, 80), timeout=20)
child.logfile_read = screen = io.StringIO()
typed = []
key = None
child.expect("Code shown by the app: ")
match = re.search(r"Or type this key into the app: ([A-Z2-7 ]+)\r\n", child.before)
if match:
    key = match.group(1)

if mode == "confirm":
    secret = key.replace(" ", "")

    def code_at(step):
        """RFC 6238 with SHA1 and 6 digits, only to pick a code that is surely wrong."""
        padded = secret + "=" * (-len(secret) % 8)
        mac = hmac.new(base64.b32decode(padded), struct.pack(">Q", step), hashlib.sha1).digest()
        offset = mac[-1] & 0x0F
        return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)

    now = int(time.time()) // 30
    near = {code_at(step) for step in range(now - 3, now + 4)}
    wrong = next(c for c in ("%06d" % (n * 7919 % 1000000) for n in range(1, 100)) if c not in near)
    typed.append(wrong)
    child.sendline(wrong)
    child.expect("Code shown by the app: ")
    right = subprocess.check_output(["oathtool", "--totp", "-b", secret], text=True).strip()
    typed.append(right)
    child.sendline(right)
else:
    child.sendeof()

child.expect(pexpect.EOF)
child.close()
print(json.dumps({"transcript": screen.getvalue(), "typed": typed, "key": key,
                  "exit": child.exitstatus, "signal": child.signalstatus}))
