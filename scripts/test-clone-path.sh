#!/bin/sh
# The tests do not care where the clone is: a fresh clone in a directory that other
# users cannot traverse (a Debian 12 home is 0700), at a path with a space, runs the
# PAM module's test (whose fake daemon runs as nobody) and the unit check from there.
# Cheap: the C module only, not the Swift build. Run by `make test`.
set -eu
top=$(mktemp -d)  # 0700, owned by root
trap 'rm -rf "$top"' EXIT
clone="$top/x y/otpgate"
mkdir -p "$top/x y"
git clone -q --no-hardlinks "$(git rev-parse --show-toplevel)" "$clone"
[ "$(stat -c %a "$top")" = 700 ] || { echo "test-clone-path: $top is not 0700" >&2; exit 1; }
make -s -C "$clone/pam" test
echo "test-clone-path: the PAM test passes from a clone at '$clone' under a 0700 directory"
