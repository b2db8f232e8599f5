#!/usr/bin/env python3
"""What a process's resident memory is made of, from /proc/PID/smaps: resident kB
per mapped file (the Swift runtime, Foundation, ICU, the binary, libcrypto, ...) and
the anonymous part (heap, thread stacks, SQLite's page caches), largest first.

Usage: bench/rss-breakdown.py PID            (once)
       bench/rss-breakdown.py --last PATTERN  (polls every 0.2 s for a process whose
                                               command line contains PATTERN and prints
                                               the breakdown it had just before it exited)"""
import os, re, subprocess, sys, time


def breakdown(pid):
    rows, cur = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$", line)
            if m:
                path = m.group(1).strip()
                cur = os.path.basename(path) if path.startswith("/") else (path or "[anon]")
                continue
            if line.startswith("Rss:") and cur is not None:
                rows[cur] = rows.get(cur, 0) + int(line.split()[1])
    return rows


def show(rows):
    total = sum(rows.values())
    for name, kb in sorted(rows.items(), key=lambda r: -r[1]):
        if kb >= 100:
            print(f"{kb / 1024:7.1f} MB  {name}")
    print(f"{total / 1024:7.1f} MB  total")


if __name__ == "__main__":
    if sys.argv[1] == "--last":
        pattern, last, pid = sys.argv[2], None, None
        while True:
            if pid is None:
                out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
                pid = int(out[0]) if out else None
            if pid is not None:
                try:
                    last = breakdown(pid)
                except OSError:
                    break
            time.sleep(0.2)
        show(last or {})
    else:
        show(breakdown(int(sys.argv[1])))
