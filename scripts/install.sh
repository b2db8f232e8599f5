#!/bin/sh
# Installs otpgate (called by `make install`; run as root).
#
#   PREFIX   where programs go (default /usr/local)
#   DESTDIR  a staging root for packaging: files only; no user, directories of state,
#            key or daemon start (the Debian package's postinst does those)
#   BINDIR   the directory holding the release build of otpgated and otpgate
#   MANBUILD the directory holding the rendered man pages (default build/man)
#
# Never edits /etc/pam.d or sshd_config: it prints the lines to add.
set -eu

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:?BINDIR must name the release build directory}
PAMBUILD=${PAMBUILD:-pam/build}
MANBUILD=${MANBUILD:-build/man}
SYSCONF=/etc/otpgate
RUNDIR=/run/otpgate
LIBEXEC=$PREFIX/lib/otpgate

# The PAM module directory, as the system's libpam says (e.g. /lib/x86_64-linux-gnu/security).
PAMDIR=${PAMDIR:-$(pkg-config --variable=libdir pam)/security}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
COMPLETIONDIR=${COMPLETIONDIR:-$PREFIX/share/bash-completion/completions}

say() { printf 'install: %s\n' "$*"; }

# Programs are stripped (the symbol tables are most of an unstripped Swift binary);
# the module keeps only its dynamic symbols, like dh_strip does.
install_program() { # source target
    install -m 0755 "$1" "$2"
    strip --remove-section=.comment --remove-section=.note "$2"
}

d=$DESTDIR
install -d -m 0755 "$d$PREFIX/sbin" "$d$PREFIX/bin" "$d$PAMDIR" "$d$UNITDIR" "$d$SYSCONF" "$d$LIBEXEC" \
    "$d$PREFIX/share/doc/otpgate" "$d$SYSCONF/pam.d-examples" "$d$COMPLETIONDIR" \
    "$d/etc/init.d" "$d/etc/logrotate.d" "$d$PREFIX/share/man/man1" "$d$PREFIX/share/man/man5" "$d$PREFIX/share/man/man8"
install_program "$BINDIR/otpgated" "$d$PREFIX/sbin/otpgated"
install_program "$BINDIR/otpgate" "$d$PREFIX/bin/otpgate"
install -m 0644 "$PAMBUILD/pam_otpgate.so" "$d$PAMDIR/pam_otpgate.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$d$PAMDIR/pam_otpgate.so"
install -m 0755 scripts/otpgate-setup "$d$LIBEXEC/otpgate-setup"

# bash-completion sources the file, so it has no use for the generator's #! line.
"$BINDIR/otpgate" --generate-completion-script bash | sed '1{/^#!/d}' > "$d$COMPLETIONDIR/otpgate"
chmod 0644 "$d$COMPLETIONDIR/otpgate"
for unit in otpgated.service otpgated.socket otpgated-admin.socket; do
    sed -e "s|/usr/local/sbin/otpgated|$PREFIX/sbin/otpgated|" \
        -e "s|/usr/local/share/doc/otpgate|$PREFIX/share/doc/otpgate|" "systemd/$unit" > "$d$UNITDIR/$unit"
    chmod 0644 "$d$UNITDIR/$unit"
done
# The init script and logrotate file name the daemon by its packaged path.
sed "s|/usr/sbin/otpgated|$PREFIX/sbin/otpgated|" debian/otpgate.otpgated.init > "$d/etc/init.d/otpgated"
chmod 0755 "$d/etc/init.d/otpgated"
sed "s|/usr/sbin/otpgated|$PREFIX/sbin/otpgated|" debian/otpgate.otpgated.logrotate > "$d/etc/logrotate.d/otpgated"
chmod 0644 "$d/etc/logrotate.d/otpgated"
for page in otpgate.1 otpgated.8 pam_otpgate.8 otpgated.toml.5; do
    install -m 0644 "$MANBUILD/$page" "$d$PREFIX/share/man/man${page##*.}/$page"
done
install -m 0644 etc/pam.d/sshd etc/pam.d/sudo "$d$SYSCONF/pam.d-examples/"
install -m 0644 README.md docs/*.md "$d$PREFIX/share/doc/otpgate/"
# The sample config never overwrites the admin's own.
if [ -e "$d$SYSCONF/otpgated.toml" ]; then
    install -m 0644 etc/otpgate/otpgated.toml "$d$SYSCONF/otpgated.toml.sample"
    say "kept the existing $SYSCONF/otpgated.toml; the new sample is otpgated.toml.sample"
else
    install -m 0644 etc/otpgate/otpgated.toml "$d$SYSCONF/otpgated.toml"
fi

if [ -n "$DESTDIR" ]; then
    say "staged into $DESTDIR: on the target, run $LIBEXEC/otpgate-setup host $PREFIX/sbin/otpgated, then start otpgated"
    exit 0
fi

# Stop a daemon started without systemd by an older install (its pidfile was in the
# socket directory then), so the key can move and the new binary starts.
if [ ! -d /run/systemd/system ] && [ -f "$RUNDIR/otpgated.pid" ]; then
    kill "$(cat "$RUNDIR/otpgated.pid")" 2>/dev/null || true
    rm -f "$RUNDIR/otpgated.pid"
fi
"$LIBEXEC/otpgate-setup" host "$PREFIX/sbin/otpgated" "$SYSCONF/otpgated.toml"

# Start (or restart) the daemon.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable otpgated.socket otpgated-admin.socket otpgated.service >/dev/null
    systemctl restart otpgated.socket otpgated-admin.socket otpgated.service
    say "otpgated runs under systemd; logs: journalctl -u otpgated"
else
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d otpgated defaults >/dev/null 2>&1 || true
    /etc/init.d/otpgated restart
    say "systemd is not running here: otpgated runs from /etc/init.d/otpgated (started at boot), logging to /var/log/otpgate/otpgated.log"
fi
if [ ! -r /usr/share/bash-completion/bash_completion ]; then
    say "tab completion for otpgate needs the bash-completion package: apt install bash-completion"
fi

cat <<MSG

otpgate is installed. To ask for a code on SSH and sudo, add these lines yourself
(keep a root shell open while you test, so you cannot lock yourself out):

  /etc/pam.d/sshd, after '@include common-auth':
      auth required pam_otpgate.so nullok

  /etc/pam.d/sudo, after '@include common-auth':
      auth required pam_otpgate.so nullok

  /etc/ssh/sshd_config (then: systemctl reload ssh):
      UsePAM yes
      KbdInteractiveAuthentication yes
      AuthenticationMethods publickey,keyboard-interactive:pam keyboard-interactive:pam

'nullok' lets users without a token in (remove it once everyone has enrolled).
Examples: $SYSCONF/pam.d-examples/. Users enrol with: otpgate enroll. Check the host: otpgate admin doctor.
Manual pages: otpgate(1), otpgated(8), pam_otpgate(8), otpgated.toml(5).
MSG
