#!/bin/sh
# Prints the path of a Swift toolchain's `swift`, or explains how to get one and fails.
#
# `sudo make install` runs with sudo's secure_path, which drops the toolchain from PATH
# on a typical machine, so this also looks where toolchains are usually installed:
# the swift.org tarball (/opt/swift, /usr/share/swift, /usr/local/swift), swiftly
# (~/.swiftly, ~/.local/share/swiftly, for the user who ran sudo too), and the
# distribution's /usr/bin/swift.
set -eu

try() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1 && { echo "$1"; exit 0; } || true; }

if command -v swift >/dev/null 2>&1; then try "$(command -v swift)"; fi
homes="${HOME:-}"
if [ -n "${SUDO_USER:-}" ]; then homes="$(getent passwd "$SUDO_USER" | cut -d: -f6) $homes"; fi
for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin; do try "$dir/swift"; done
for home in $homes; do
    for dir in "$home/.swiftly/bin" "$home/.local/share/swiftly/bin" "$home/.swiftly/toolchains"/*/usr/bin; do
        try "$dir/swift"
    done
done
try /usr/bin/swift

cat >&2 <<'MSG'
otpgate: no Swift toolchain found (looked on PATH, in /opt/swift/usr/bin,
/usr/share/swift/usr/bin, /usr/local/swift/usr/bin, ~/.swiftly/bin and
~/.local/share/swiftly/bin of root and of $SUDO_USER, and /usr/bin).
If you have one elsewhere, name it:   sudo make install SWIFT=/path/to/usr/bin/swift
If you have none, install Swift 6.1 or newer from https://www.swift.org/install/linux/
(for example the tarball unpacked to /opt/swift), then run 'sudo make install' again.
Or install the Debian package instead, which needs no toolchain: sudo apt install ./otpgate_*.deb
MSG
exit 1
