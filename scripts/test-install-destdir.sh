#!/bin/sh
# `make install` into a DESTDIR puts every file where it belongs, with the right
# modes, and touches nothing outside DESTDIR. Usage: scripts/test-install-destdir.sh BINDIR
set -eu
bindir=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pamdir=$(pkg-config --variable=libdir pam)/security
make -s -C pam >/dev/null
PREFIX=/usr/local DESTDIR="$root" BINDIR="$bindir" scripts/install.sh >/dev/null

fail=0
expect() { # path mode
    if [ ! -e "$root$1" ]; then echo "destdir: missing $1"; fail=1; return; fi
    mode=$(stat -c %a "$root$1")
    [ "$mode" = "$2" ] || { echo "destdir: $1 has mode $mode, expected $2"; fail=1; }
}
expect /usr/local/sbin/otpgated 755
expect /usr/local/bin/otpgate 755
expect /usr/local/share/bash-completion/completions/otpgate 644
expect "$pamdir/pam_otpgate.so" 644
expect /usr/local/lib/systemd/system/otpgated.service 644
expect /usr/local/lib/systemd/system/otpgated.socket 644
expect /usr/local/lib/systemd/system/otpgated-admin.socket 644
expect /etc/otpgate/otpgated.toml 644
expect /etc/otpgate/pam.d-examples/sshd 644
expect /etc/otpgate/pam.d-examples/sudo 644
expect /var/lib/otpgate 700
expect /usr/local/share/doc/otpgate/README.md 644
grep -q "^ExecStart=/usr/local/sbin/otpgated$" "$root/usr/local/lib/systemd/system/otpgated.service" ||
    { echo "destdir: ExecStart does not name the installed binary"; fail=1; }
# No key is made for a staged install (it belongs to the target machine).
[ ! -e "$root/etc/otpgate/master.key" ] || { echo "destdir: a key was created in the staging root"; fail=1; }
# A second install keeps the admin's config and adds a .sample beside it.
echo "# edited by the admin" >> "$root/etc/otpgate/otpgated.toml"
PREFIX=/usr/local DESTDIR="$root" BINDIR="$bindir" scripts/install.sh >/dev/null
grep -q "edited by the admin" "$root/etc/otpgate/otpgated.toml" || { echo "destdir: the config was overwritten"; fail=1; }
expect /etc/otpgate/otpgated.toml.sample 644
[ "$fail" = 0 ] && echo "test-install-destdir: every file in place with the right mode"
exit "$fail"
