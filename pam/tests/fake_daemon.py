#!/usr/bin/env python3
"""A stand-in for otpgated that answers every verify in one chosen way.

    fake_daemon.py MODE SOCKET LOG [PRECHECK]

It appends each request line it receives to LOG and answers verify and
verify.candidates according to MODE (a success to verify.candidates names the
candidate of 6 characters, else the first), and verify.precheck according to
PRECHECK (default "enrolled"). With MODE "backlog" it listens with a backlog of 0
and accepts nothing until a line arrives on its stdin, then answers "ok".
The PAM module's return-code table test drives it; it is never installed.
"""
import json
import os
import socket
import sys
import time

MODE, PATH, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
PRECHECK = sys.argv[4] if len(sys.argv) > 4 else "enrolled"

PRECHECKS = {
    "enrolled": {"v": 1, "ok": True, "needs_code": True, "reason": "enrolled", "required": False},
    "not_enrolled": {"v": 1, "ok": True, "needs_code": False, "reason": "not_enrolled", "required": False},
    "required": {"v": 1, "ok": True, "needs_code": True, "reason": "not_enrolled", "required": True},
    "pending": {"v": 1, "ok": True, "needs_code": False, "reason": "enrollment_pending", "required": True,
                "enroll_by": "2031-02-03T04:05:06Z"},
    "grace": {"v": 1, "ok": True, "needs_code": False, "reason": "grace", "required": False,
              "grace_until": "2031-02-03T04:05:06Z"},
    "new_reason": {"v": 1, "ok": True, "needs_code": False, "reason": "something_new", "required": False},
    "no_needs_code": {"v": 1, "ok": True, "reason": "grace", "required": False},
    "needs_code_string": {"v": 1, "ok": True, "needs_code": "false", "reason": "grace"},
    "unknown_op": {"v": 1, "ok": False, "error": "unknown_op", "message": "unknown op 'verify.precheck'"},
    "unavailable": {"v": 1, "ok": False, "error": "unavailable", "message": "store"},
    "forbidden": {"v": 1, "ok": False, "error": "forbidden", "message": "x"},
}

REPLIES = {
    "ok": {"v": 1, "ok": True, "factor": "totp", "token": "phone", "recovery_remaining": 10},
    "ok_recovery": {"v": 1, "ok": True, "factor": "recovery", "recovery_remaining": 9},
    "ok_recovery_few": {"v": 1, "ok": True, "factor": "recovery", "recovery_remaining": 2},
    "ok_recovery_last": {"v": 1, "ok": True, "factor": "recovery", "recovery_remaining": 0},
    "bad_candidate": {"v": 1, "ok": True, "factor": "totp", "token": "phone", "recovery_remaining": 10, "candidate": 7},
    "invalid": {"v": 1, "ok": False, "error": "invalid_code", "message": "the code is not valid"},
    "replayed": {"v": 1, "ok": False, "error": "replayed_code", "message": "used"},
    "rate_limited": {"v": 1, "ok": False, "error": "rate_limited", "message": "wait", "retry_after": 37},
    "locked": {"v": 1, "ok": False, "error": "rate_limited", "message": "locked"},
    "not_enrolled_optional": {"v": 1, "ok": False, "error": "not_enrolled", "message": "x", "required": False},
    "not_enrolled_required": {"v": 1, "ok": False, "error": "not_enrolled", "message": "x", "required": True},
    "unavailable": {"v": 1, "ok": False, "error": "unavailable", "message": "store"},
    "internal": {"v": 1, "ok": False, "error": "internal", "message": "x"},
    "forbidden": {"v": 1, "ok": False, "error": "forbidden", "message": "x"},
    "bad_request": {"v": 1, "ok": False, "error": "bad_request", "message": "x"},
    "unknown_error": {"v": 1, "ok": False, "error": "something_new", "message": "x"},
}

# Replies that are wrong on the wire; each must fail closed.
RAW = {
    "garbage": b"this is not json\n",
    "wrong_v": b'{"v":2,"ok":true}\n',
    "no_v": b'{"ok":true}\n',
    "ok_string": b'{"v":1,"ok":"true"}\n',
    "ok_number": b'{"v":1,"ok":1}\n',
    "ok_missing": b'{"v":1,"error":"invalid_code"}\n',
    "ok_with_error": b'{"v":1,"ok":true,"error":"invalid_code"}\n',
    "failure_without_error": b'{"v":1,"ok":false}\n',
    "duplicate_ok": b'{"v":1,"ok":false,"error":"invalid_code","ok":true}\n',
    "nested": b'{"v":1,"ok":true,"token":{"name":"x"}}\n',
    "array": b'[{"v":1,"ok":true}]\n',
    "trailing": b'{"v":1,"ok":true} x\n',
    "two_lines": b'{"v":1,"ok":false,"error":"invalid_code","message":"x"}\n{"v":1,"ok":true}\n',
    "float_v": b'{"v":1.0,"ok":true}\n',
    "oversized": b'{"v":1,"ok":true,"pad":"' + b"x" * 5000 + b'"}\n',
    "no_newline": b'{"v":1,"ok":true}',
    "nul": b'{"v":1,"ok":true,"m":"a\x00b"}\n',
    "after_nul": b'{"v":1,"ok":true}\x00{"v":1,"ok":false,"error":"invalid_code"}\n',
    "v_overflow": b'{"v":4294967297,"ok":true}\n',
    "v_leading_zero": b'{"v":01,"ok":true}\n',
    "v_minus_zero_one": b'{"v":-01,"ok":true}\n',
    "v_exponent": b'{"v":1e0,"ok":true}\n',
    "bad_utf8": b'{"v":1,"ok":true,"token":"\xff"}\n',
    "overlong_utf8": b'{"v":1,"ok":true,"token":"\xc0\xaf"}\n',
    "surrogate_utf8": b'{"v":1,"ok":true,"token":"\xed\xa0\x80"}\n',
    "truncated_utf8": b'{"v":1,"ok":true,"token":"\xe2\x82"}\n',
    "duplicate_factor": b'{"v":1,"ok":true,"factor":"totp","factor":"recovery"}\n',
    "negative_remaining": b'{"v":1,"ok":true,"factor":"recovery","recovery_remaining":-1}\n',
}

if os.path.exists(PATH):
    os.unlink(PATH)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(PATH)
os.chmod(PATH, 0o666)
server.listen(0 if MODE == "backlog" else 16)
print("ready", flush=True)
if MODE == "backlog":
    sys.stdin.readline()  # the test has seen the module retry: start accepting
    MODE = "ok"


def answer(request):
    op = request.get("op")
    if op == "verify.precheck":
        return PRECHECKS[PRECHECK]
    reply = dict(REPLIES[MODE])
    if op == "verify.candidates" and reply["ok"] and "candidate" not in reply:
        codes = request.get("codes", [])
        reply["candidate"] = next((i for i, c in enumerate(codes) if len(c) == 6), 0)
    return reply


while True:
    conn, _ = server.accept()
    with conn:
        if MODE == "close_early":
            continue
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        with open(LOG, "ab") as log:
            log.write(data)
        if MODE == "stall":
            time.sleep(5)
            continue
        if MODE in RAW:
            try:
                conn.sendall(RAW[MODE])
                if MODE == "no_newline":
                    conn.shutdown(socket.SHUT_WR)
                    time.sleep(0.2)
            except OSError:
                pass
            continue
        if not data:
            continue
        try:
            conn.sendall(json.dumps(answer(json.loads(data))).encode() + b"\n")
        except OSError:
            pass  # the module hung up first (it refused this peer)
