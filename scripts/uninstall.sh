#!/bin/sh
# Removes what `make install` installed. Keeps the config, the master key and the
# store (the secrets): removing those is a decision for the admin.
set -eu
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
PAMDIR=${PAMDIR:-$(pkg-config --variable=libdir pam)/security}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}

if [ -z "$DESTDIR" ]; then
    if [ -d /run/systemd/system ]; then
        systemctl disable --now otpgated.service otpgated.socket otpgated-admin.socket 2>/dev/null || true
    elif [ -f /run/otpgate/otpgated.pid ]; then
        kill "$(cat /run/otpgate/otpgated.pid)" 2>/dev/null || true
        rm -f /run/otpgate/otpgated.pid
    fi
fi
if grep -qs pam_otpgate /etc/pam.d/* 2>/dev/null; then
    echo "uninstall: warning: these PAM files still name pam_otpgate.so; remove those lines first or logins will fail:" >&2
    grep -ls pam_otpgate /etc/pam.d/* >&2 || true
fi
rm -f "$DESTDIR$PREFIX/sbin/otpgated" "$DESTDIR$PREFIX/bin/otpgate" "$DESTDIR$PAMDIR/pam_otpgate.so" \
    "$DESTDIR$UNITDIR/otpgated.service" "$DESTDIR$UNITDIR/otpgated.socket" "$DESTDIR$UNITDIR/otpgated-admin.socket"
rm -rf "$DESTDIR$PREFIX/share/doc/otpgate" "$DESTDIR/etc/otpgate/pam.d-examples"
rm -f "$DESTDIR$PREFIX/share/bash-completion/completions/otpgate"
[ -d /run/systemd/system ] && [ -z "$DESTDIR" ] && systemctl daemon-reload || true
echo "uninstall: removed the programs, the module and the units; kept /etc/otpgate (config, master key) and /var/lib/otpgate (the store)"
