#!/bin/sh
# Installs otpgate (called by `make install`; run as root).
#
#   PREFIX   where binaries go (default /usr/local)
#   DESTDIR  a staging root for packaging: files only, no user, key or daemon start
#   BINDIR   the directory holding the release build of otpgated
#
# Never edits /etc/pam.d or sshd_config: it prints the lines to add.
set -eu

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:?BINDIR must name the release build directory}
PAMBUILD=${PAMBUILD:-pam/build}
USER_NAME=otpgate
SYSCONF=/etc/otpgate
STATE=/var/lib/otpgate
RUNDIR=/run/otpgate

# The PAM module directory, as the system's libpam says (e.g. /lib/x86_64-linux-gnu/security).
PAMDIR=${PAMDIR:-$(pkg-config --variable=libdir pam)/security}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}

say() { printf 'install: %s\n' "$*"; }

install -d -m 0755 "$DESTDIR$PREFIX/sbin" "$DESTDIR$PAMDIR" "$DESTDIR$UNITDIR" "$DESTDIR$SYSCONF" \
    "$DESTDIR$PREFIX/share/doc/otpgate" "$DESTDIR$SYSCONF/pam.d-examples"
install -m 0755 "$BINDIR/otpgated" "$DESTDIR$PREFIX/sbin/otpgated"
install -d -m 0755 "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/bash-completion/completions"
install -m 0755 "$BINDIR/otpgate" "$DESTDIR$PREFIX/bin/otpgate"
"$BINDIR/otpgate" --generate-completion-script bash > "$DESTDIR$PREFIX/share/bash-completion/completions/otpgate"
chmod 0644 "$DESTDIR$PREFIX/share/bash-completion/completions/otpgate"
install -m 0644 "$PAMBUILD/pam_otpgate.so" "$DESTDIR$PAMDIR/pam_otpgate.so"
for unit in otpgated.service otpgated.socket otpgated-admin.socket; do
    sed "s|/usr/local/sbin/otpgated|$PREFIX/sbin/otpgated|" "systemd/$unit" > "$DESTDIR$UNITDIR/$unit"
    chmod 0644 "$DESTDIR$UNITDIR/$unit"
done
install -m 0644 etc/pam.d/sshd etc/pam.d/sudo "$DESTDIR$SYSCONF/pam.d-examples/"
install -m 0644 README.md docs/*.md "$DESTDIR$PREFIX/share/doc/otpgate/"
# The sample config never overwrites the admin's own.
if [ -e "$DESTDIR$SYSCONF/otpgated.toml" ]; then
    install -m 0644 etc/otpgate/otpgated.toml "$DESTDIR$SYSCONF/otpgated.toml.sample"
    say "kept the existing $SYSCONF/otpgated.toml; the new sample is otpgated.toml.sample"
else
    install -m 0644 etc/otpgate/otpgated.toml "$DESTDIR$SYSCONF/otpgated.toml"
fi
install -d -m 0700 "$DESTDIR$STATE"

if [ -n "$DESTDIR" ]; then
    say "staged into $DESTDIR: create the '$USER_NAME' user, its key and state on the target, then start otpgated"
    exit 0
fi

# The unprivileged user the daemon runs as.
if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
        --comment "otpgate daemon" "$USER_NAME"
    say "created system user $USER_NAME"
fi
chown "$USER_NAME:$USER_NAME" "$STATE"
chmod 0700 "$STATE"

# The master key: created once, owned by the daemon's user, mode 0600.
"$PREFIX/sbin/otpgated" --config "$SYSCONF/otpgated.toml" --create-key
keyfile=$(sed -n 's/^[[:space:]]*key_file[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$SYSCONF/otpgated.toml" | tail -n 1)
keyfile=${keyfile:-$SYSCONF/master.key}
chown "$USER_NAME:$USER_NAME" "$keyfile"
chmod 0600 "$keyfile"

# Start (or restart) the daemon.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable otpgated.socket otpgated-admin.socket otpgated.service >/dev/null
    systemctl restart otpgated.socket otpgated-admin.socket otpgated.service
    say "otpgated runs under systemd; logs: journalctl -u otpgated"
else
    if [ -f "$RUNDIR/otpgated.pid" ] && kill "$(cat "$RUNDIR/otpgated.pid")" 2>/dev/null; then
        sleep 1
    fi
    install -d -m 0755 -o "$USER_NAME" -g "$USER_NAME" "$RUNDIR"
    install -d -m 0755 /var/log/otpgate
    touch /var/log/otpgate/otpgated.log
    chown "$USER_NAME:$USER_NAME" /var/log/otpgate/otpgated.log
    setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups --inh-caps=-all \
        sh -c "umask 077; exec '$PREFIX/sbin/otpgated' >> /var/log/otpgate/otpgated.log 2>&1" &
    echo $! > "$RUNDIR/otpgated.pid"
    i=0
    while [ ! -S "$RUNDIR/otpgated.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if [ -S "$RUNDIR/otpgated.sock" ]; then
        say "systemd is not running here: otpgated started in the background (pid $(cat "$RUNDIR/otpgated.pid")), logging to /var/log/otpgate/otpgated.log"
    else
        say "otpgated did not come up; see /var/log/otpgate/otpgated.log" >&2
        exit 1
    fi
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
MSG
