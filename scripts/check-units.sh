#!/bin/sh
# Checks the systemd units: `systemd-analyze verify` must be clean, and the service's
# exposure score from `systemd-analyze security --offline=true` must stay at or below
# the bound documented in docs/SECURITY.md.
# Usage: scripts/check-units.sh PATH-TO-OTPGATED
set -eu
binary=$(readlink -f "$1")
bound=1.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp systemd/otpgated.service systemd/otpgated.socket systemd/otpgated-admin.socket "$work"/
# verify checks that ExecStart exists, so point it at (a copy of, in case its path
# has white space) the binary just built.
cp "$binary" "$work/otpgated"
sed -i "s|^ExecStart=.*|ExecStart=$work/otpgated|" "$work/otpgated.service"
cd "$work"
out=$(systemd-analyze verify --man=no ./otpgated.service ./otpgated.socket ./otpgated-admin.socket 2>&1) || {
    echo "$out"; echo "check-units: systemd-analyze verify failed" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out"; echo "check-units: systemd-analyze verify printed warnings" >&2; exit 1; fi
score=$(systemd-analyze security --offline=true ./otpgated.service 2>/dev/null | sed -n 's/.*Overall exposure level for otpgated.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "check-units: no exposure score" >&2; exit 1; }
echo "check-units: systemd-analyze verify clean; exposure level $score (bound $bound)"
awk -v s="$score" -v b="$bound" 'BEGIN { exit !(s <= b) }' || { echo "check-units: exposure $score exceeds $bound" >&2; exit 1; }
