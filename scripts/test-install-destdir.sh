#!/bin/sh
# `make install` into a DESTDIR puts every file where it belongs, with the right
# modes, and touches nothing outside DESTDIR. Usage: scripts/test-install-destdir.sh BINDIR
set -eu
bindir=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pamdir=$(pkg-config --variable=libdir pam)/security
make -s -C pam >/dev/null
make -s man >/dev/null
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
expect /usr/local/lib/otpgate/otpgate-setup 755
expect /etc/init.d/otpgated 755
expect /etc/logrotate.d/otpgated 644
expect /usr/local/share/man/man1/otpgate.1 644
expect /usr/local/share/man/man8/otpgated.8 644
expect /usr/local/share/man/man8/pam_otpgate.8 644
expect /usr/local/share/man/man5/otpgated.toml.5 644
# Stripped: no symbol table left in what is installed.
for f in /usr/local/sbin/otpgated /usr/local/bin/otpgate "$pamdir/pam_otpgate.so"; do
    if readelf -S "$root$f" | grep -q '\.symtab'; then echo "destdir: $f is not stripped"; fail=1; fi
done
# The init script and logrotate file name the installed daemon.
grep -q '^DAEMON=/usr/local/sbin/otpgated$' "$root/etc/init.d/otpgated" || { echo "destdir: the init script does not name /usr/local/sbin/otpgated"; fail=1; }
grep -q -- '--exec /usr/local/sbin/otpgated' "$root/etc/logrotate.d/otpgated" || { echo "destdir: logrotate does not name /usr/local/sbin/otpgated"; fail=1; }
# State (store, key directory) belongs to the target machine, not to a staging root.
[ ! -e "$root/var/lib/otpgate" ] && [ ! -e "$root/etc/otpgate/keys" ] || { echo "destdir: state directories in the staging root"; fail=1; }
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
# Uninstall refuses while a PAM file of that root uses the module, naming file:line,
# removes nothing then; FORCE=1 removes; without references it just removes.
install -d "$root/etc/pam.d"
printf '#%%PAM-1.0\n@include common-auth\nauth required pam_otpgate.so nullok\n' > "$root/etc/pam.d/sshd"
if out=$(PREFIX=/usr/local DESTDIR="$root" scripts/uninstall.sh 2>&1); then
    echo "destdir: uninstall succeeded although etc/pam.d/sshd uses the module"; fail=1
fi
echo "$out" | grep -q "$root/etc/pam.d/sshd:3:auth required pam_otpgate.so nullok" || { echo "destdir: the refusal does not name file:line: $out"; fail=1; }
expect "$pamdir/pam_otpgate.so" 644
expect /usr/local/sbin/otpgated 755
printf '# auth required pam_otpgate.so\n' > "$root/etc/pam.d/sshd"   # a comment is no reference
PREFIX=/usr/local DESTDIR="$root" scripts/uninstall.sh > "$root/uninstall.out" 2>&1 || { echo "destdir: uninstall failed with only a commented reference"; cat "$root/uninstall.out"; fail=1; }
[ ! -e "$root$pamdir/pam_otpgate.so" ] && [ ! -e "$root/usr/local/sbin/otpgated" ] || { echo "destdir: uninstall left the module or the daemon"; fail=1; }
grep -q "kept" "$root/uninstall.out" && grep -q "deluser --system otpgate" "$root/uninstall.out" || { echo "destdir: uninstall does not say what it kept"; fail=1; }
PREFIX=/usr/local DESTDIR="$root" BINDIR="$bindir" scripts/install.sh >/dev/null
printf 'auth required pam_otpgate.so\n' > "$root/etc/pam.d/sudo"
PREFIX=/usr/local DESTDIR="$root" FORCE=1 scripts/uninstall.sh >/dev/null 2>&1 || { echo "destdir: FORCE=1 uninstall failed"; fail=1; }
[ ! -e "$root$pamdir/pam_otpgate.so" ] || { echo "destdir: FORCE=1 left the module"; fail=1; }
# sudo's secure_path has no toolchain in it: the Makefile still finds one.
found=$(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent scripts/find-swift.sh) &&
    "$found" --version >/dev/null 2>&1 || { echo "destdir: find-swift.sh found no toolchain under sudo's secure_path"; fail=1; }
[ "$fail" = 0 ] && echo "test-install-destdir: every file in place with the right mode"
exit "$fail"
