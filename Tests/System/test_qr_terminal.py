#!/usr/bin/env python3
"""The enrolment QR code in a real 80x24 terminal scans to exactly the otpauth URI.

    python3 Tests/System/test_qr_terminal.py BINDIR     (BINDIR holds otpgated, otpgate)

For the UTF-8 locale and the POSIX locale, `otpgate enroll` runs in a tmux pane of
80x24 (tmux, like the terminals people use, shows UTF-8 and answers the cursor
position report). The test waits for the prompt, checks that nothing scrolled off
(the pane's history is empty) and that the key and the prompt are on the screen, then
takes the screen with its colours (capture-pane -e, -N to keep trailing cells), paints it into an image the way
a terminal would, once with a dark and once with a light default background, and
decodes each with zbarimg: the text must be exactly the otpauth URI built from the
key on the screen.

Controls, which must fail to decode: the same screen painted without its colours on
a dark background (what a terminal that ignores colour shows: light modules dark and
dark ones light, inverted), which shows that the colours are what make both
backgrounds work. And a
terminal that shows no UTF-8 and does not answer (a bare pty in the POSIX locale):
no drawing at all, but a pointer to --qr-svg and the key, all in 80x24.
"""
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time

bindir = os.path.abspath(sys.argv[1])
OTPGATED, OTPGATE = bindir + "/otpgated", bindir + "/otpgate"
ISSUER = "qr-test-host.example"
failures = []
ROWS, COLS = 24, 80


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else f":\n{detail}"), flush=True)
    if not ok:
        failures.append(what)
    return ok


# ------------------------------------------------------------ terminal model ---

PALETTE = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
           (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def parse_screen(text):
    """capture-pane -e output -> rows of (char, fg, bg); fg/bg None = the default."""
    rows = []
    fg = bg = None  # capture-pane -e writes attributes only where they change, across lines too
    for line in text.split("\n")[:ROWS]:
        row = []
        i = 0
        while i < len(line):
            m = re.match(r"\x1b\[([0-9;]*)m", line[i:])
            if m:
                codes = [int(c) if c else 0 for c in m.group(1).split(";")]
                j = 0
                while j < len(codes):
                    c = codes[j]
                    if c == 0:
                        fg = bg = None
                    elif 30 <= c <= 37:
                        fg = c - 30
                    elif 90 <= c <= 97:
                        fg = c - 90 + 8
                    elif c == 39:
                        fg = None
                    elif 40 <= c <= 47:
                        bg = c - 40
                    elif 100 <= c <= 107:
                        bg = c - 100 + 8
                    elif c == 49:
                        bg = None
                    elif c in (38, 48) and j + 2 < len(codes) and codes[j + 1] == 5:
                        if c == 38:
                            fg = codes[j + 2]
                        else:
                            bg = codes[j + 2]
                        j += 2
                    j += 1
                i += len(m.group(0))
                continue
            row.append((line[i], fg, bg))
            i += 1
        rows.append(row)
    return rows


def paint(rows, default_fg, default_bg, colors=True, cell_w=8, cell_h=16):
    """A greyscale image of the screen as a terminal paints it."""
    width, height = COLS * cell_w, ROWS * cell_h
    img = bytearray([0]) * (width * height)

    def grey(index, default):
        if not colors or index is None or index >= 16:
            r, g, b = default
        else:
            r, g, b = PALETTE[index]
        return (r * 299 + g * 587 + b * 114) // 1000

    for y in range(ROWS):
        row = rows[y] if y < len(rows) else []
        for x in range(COLS):
            ch, fg, bg = row[x] if x < len(row) else (" ", None, None)
            f, b = grey(fg, default_fg), grey(bg, default_bg)
            for py in range(cell_h):
                for px in range(cell_w):
                    if ch == "█":
                        v = f
                    elif ch == "▀":
                        v = f if py < cell_h // 2 else b
                    elif ch == "▄":
                        v = f if py >= cell_h // 2 else b
                    elif ch == " ":
                        v = b
                    else:  # a text glyph: some ink in the middle of the cell
                        v = f if 2 <= px < cell_w - 2 and 3 <= py < cell_h - 3 and (px + py) % 2 == 0 else b
                    img[(y * cell_h + py) * width + x * cell_w + px] = v
    return b"P5 %d %d 255\n" % (width, height) + bytes(img)


def decode(image, tmp, name):
    path = os.path.join(tmp, name + ".pgm")
    with open(path, "wb") as f:
        f.write(image)
    r = subprocess.run(["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", path], capture_output=True, text=True)
    return r.stdout.rstrip("\n") if r.returncode == 0 else None


DARK = ((229, 229, 229), (0, 0, 0))
LIGHT = ((0, 0, 0), (255, 255, 255))


# ------------------------------------------------------------------- runs ---

def expected_uri(screen_text):
    """The URI the daemon made, rebuilt from the key on the screen (in any layout)."""
    m = re.search(r"(?:Key: |Or type this key into the app: )((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})", screen_text)
    side = re.search(r"or type this key: *\n.*?((?:[A-Z2-7]{4} ){3}[A-Z2-7]{4}) *\n.*?((?:[A-Z2-7]{4} ){3}[A-Z2-7]{4})", screen_text)
    if m:
        key = m.group(1).replace(" ", "")
    elif side:
        key = (side.group(1) + side.group(2)).replace(" ", "")
    else:
        return None
    issuer = ISSUER.replace(":", "%3A")
    return f"otpauth://totp/{issuer}:root?secret={key}&issuer={issuer}&algorithm=SHA1&digits=6&period=30"


def tmux_enroll(tmp, sock, locale, label):
    server = f"otpgate-qr-{os.getpid()}-{label}"
    tm = ["tmux", "-u", "-L", server, "-f", "/dev/null"]
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")  # the terminal (tmux) shows UTF-8
    inner = f"env -u LANGUAGE LANG={locale} LC_ALL={locale} TERM=screen {OTPGATE} enroll --socket {sock}; sleep 600"
    subprocess.run(tm + ["new-session", "-d", "-x", str(COLS), "-y", str(ROWS), inner], env=env, check=True)
    try:
        screen = ""
        for _ in range(600):  # until the prompt is on the screen (the program says it is ready)
            screen = subprocess.run(tm + ["capture-pane", "-p", "-e", "-N"], env=env, capture_output=True, text=True).stdout
            if "Code shown by the app:" in screen:
                break
            time.sleep(0.05)
        history = subprocess.run(tm + ["display-message", "-p", "#{history_size}"], env=env, capture_output=True,
                                 text=True).stdout.strip()
        size = subprocess.run(tm + ["display-message", "-p", "#{pane_width}x#{pane_height}"], env=env, capture_output=True,
                              text=True).stdout.strip()
    finally:
        subprocess.run(tm + ["kill-server"], env=env, capture_output=True)
    return screen, history, size


def pty_enroll(sock):
    """The POSIX locale on a terminal that shows no UTF-8 and answers nothing."""
    pid, fd = pty.fork()
    if pid == 0:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C", "TERM": "vt100"}
        os.execve(OTPGATE, [OTPGATE, "enroll", "--socket", sock], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    out = b""
    deadline = time.monotonic() + 60
    while b"Code shown by the app:" not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode("utf-8", "replace")


def main():
    for tool in ["tmux", "zbarimg"]:
        if not shutil.which(tool):
            sys.exit(f"test_qr_terminal: {tool} is missing (make test-deps installs it)")
    tmp = tempfile.mkdtemp(prefix="otpgate-qr-")
    state = os.path.join(tmp, "s")
    config = os.path.join(tmp, "otpgated.toml")
    with open(config, "w") as f:
        f.write(f'[policy]\nissuer = "{ISSUER}"\n')
    log = open(os.path.join(tmp, "daemon.log"), "w")
    daemon = subprocess.Popen([OTPGATED, "--state-dir", state, "--config", config], stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(state, "otpgated.sock")
    try:
        for _ in range(600):
            if os.path.exists(sock) or daemon.poll() is not None:
                break
            time.sleep(0.05)
        if not check(os.path.exists(sock), "otpgated is up", open(log.name).read()):
            return
        for locale, label in [("C.UTF-8", "UTF-8"), ("C", "POSIX")]:
            screen, history, size = tmux_enroll(tmp, sock, locale, label)
            plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)
            check(size == f"{COLS}x{ROWS}", f"{label}: the pane is {COLS}x{ROWS}", size)
            check(history == "0" and "Code shown by the app:" in plain, f"{label}: QR code, key and prompt fit without scrolling",
                  f"history {history}\n{plain}")
            uri = expected_uri(plain)
            check(uri is not None, f"{label}: the key is on the screen", plain)
            check(any(c in plain for c in "█▀▄"), f"{label}: a half-block QR code is drawn", plain)
            rows = parse_screen(screen)
            for theme, (fg, bg) in [("dark", DARK), ("light", LIGHT)]:
                got = decode(paint(rows, fg, bg), tmp, f"{label}-{theme}")
                check(got == uri and uri is not None, f"{label}, {theme} background: zbarimg reads exactly the otpauth URI",
                      f"read {got!r}\nwant {uri!r}")
            got = decode(paint(rows, *DARK, colors=False), tmp, f"{label}-nocolor")
            check(got is None, f"{label}, control: painted without its colours on a dark background it does not decode",
                  f"read {got!r}")
        text = pty_enroll(sock)
        lines = text.replace("\r", "").split("\n")
        check("--qr-svg" in text and expected_uri(text) is not None and not any(c in text for c in "█▀▄"),
              "POSIX locale, terminal without UTF-8: no drawing, a pointer to --qr-svg and the key", text)
        check(len(lines) <= ROWS and all(len(l) <= COLS for l in lines), "... and it fits 80x24", text)
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"test_qr_terminal: {'FAILED: ' + ', '.join(failures) if failures else 'all checks passed'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
