#!/bin/sh
# Removes what `make install` installed (called by `make uninstall`).
#
# Refuses (exit 1) while a PAM file still uses pam_otpgate.so: without the module
# every login through that file fails ("Module is unknown"). FORCE=1 removes anyway.
# Keeps the config, the master key, the store, the log and the otpgate user (the
# secrets and the record of who enrolled): it prints how to remove those too.
set -eu
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
FORCE=${FORCE:-}
PAMDIR=${PAMDIR:-$(pkg-config --variable=libdir pam)/security}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
COMPLETIONDIR=${COMPLETIONDIR:-$PREFIX/share/bash-completion/completions}

# The PAM files that matter are those of the root being uninstalled from.
if refs=$(scripts/otpgate-setup pam-references "$DESTDIR"); then
    if [ -z "$FORCE" ]; then
        echo "uninstall: refusing: these PAM lines still use pam_otpgate.so, and every login through them would fail without it:" >&2
        printf '%s\n' "$refs" | sed 's/^/  /' >&2
        echo "uninstall: remove (or comment out) those lines, check that you can still log in, then run 'make uninstall' again; 'make uninstall FORCE=1' removes it anyway" >&2
        exit 1
    fi
    echo "uninstall: FORCE=1: removing the module although these lines use it (logins through them will fail):" >&2
    printf '%s\n' "$refs" | sed 's/^/  /' >&2
fi

if [ -z "$DESTDIR" ]; then
    if [ -d /run/systemd/system ]; then
        systemctl disable --now otpgated.service otpgated.socket otpgated-admin.socket 2>/dev/null || true
    elif [ -x /etc/init.d/otpgated ]; then
        /etc/init.d/otpgated stop || true
    fi
    if [ -f /run/otpgate/otpgated.pid ]; then  # started by an older make install
        kill "$(cat /run/otpgate/otpgated.pid)" 2>/dev/null || true
        rm -f /run/otpgate/otpgated.pid
    fi
    command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/otpgated ] && update-rc.d -f otpgated remove >/dev/null 2>&1 || true
fi
d=$DESTDIR
rm -f "$d$PREFIX/sbin/otpgated" "$d$PREFIX/bin/otpgate" "$d$PAMDIR/pam_otpgate.so" \
    "$d$UNITDIR/otpgated.service" "$d$UNITDIR/otpgated.socket" "$d$UNITDIR/otpgated-admin.socket" \
    "$d/etc/init.d/otpgated" "$d/etc/logrotate.d/otpgated" "$d$COMPLETIONDIR/otpgate" \
    "$d$PREFIX/share/man/man1/otpgate.1" "$d$PREFIX/share/man/man8/otpgated.8" \
    "$d$PREFIX/share/man/man8/pam_otpgate.8" "$d$PREFIX/share/man/man5/otpgated.toml.5"
rm -rf "$d$PREFIX/share/doc/otpgate" "$d/etc/otpgate/pam.d-examples" "$d$PREFIX/lib/otpgate"
if [ -d /run/systemd/system ] && [ -z "$DESTDIR" ]; then systemctl daemon-reload; fi
cat <<MSG
uninstall: removed the programs, the module, the units, the init script, the man pages and the completion.
uninstall: kept (they hold the secrets and the record of who enrolled):
  /etc/otpgate             the config and the master key (keys/master.key)
  /var/lib/otpgate         the store
  /var/log/otpgate         the log (hosts without systemd)
  the system user otpgate
uninstall: to remove those too: rm -rf /etc/otpgate /var/lib/otpgate /var/log/otpgate && deluser --system otpgate
MSG
