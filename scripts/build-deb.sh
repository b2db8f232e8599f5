#!/bin/sh
# Builds build/deb/otpgate_<version>_<arch>.deb from an existing release build, then
# runs lintian on it: an error or a warning fails the build (there are none; a new
# one that is right to keep goes into debian/otpgate.lintian-overrides with its
# reason). Informational tags (I:) are printed, not failed. Called by `make deb`.
#
#   OTPGATE_BINDIR       the release build directory (otpgated, otpgate)
#   OTPGATE_DEB_VERSION  optional: another version for the same files (upgrade tests)
#   OTPGATE_DEB_DIR      where the .deb goes (default build/deb; emptied first)
#   OTPGATE_LINTIAN      "no" skips lintian (the upgrade test's second build)
#   OTPGATE_DEB_COMPRESS xz (default) or gzip (level 1: make test, much faster, larger)
#
# Why debhelper and not a hand-made dpkg-deb tree: dh_installsystemd and
# dh_installinit write the maintainer-script snippets that enable, start, restart on
# upgrade and stop the daemon under systemd and under sysvinit (policy-rc.d and
# deb-systemd-helper included), dh_shlibdeps computes the library dependencies, and
# the conffiles, md5sums and changelog come out as Debian tools expect. debian/rules
# overrides the build steps, so debhelper only packages what `make release` built.
set -eu
: "${OTPGATE_BINDIR:?OTPGATE_BINDIR must name the release build}"
export OTPGATE_BINDIR OTPGATE_DEB_VERSION="${OTPGATE_DEB_VERSION:-}" OTPGATE_DEB_DIR="${OTPGATE_DEB_DIR:-build/deb}" \
    OTPGATE_DEB_COMPRESS="${OTPGATE_DEB_COMPRESS:-xz}"
dpkg-checkbuilddeps
rm -rf "$OTPGATE_DEB_DIR" debian/otpgate debian/.debhelper debian/debhelper-build-stamp debian/files debian/*.substvars debian/*.debhelper
mkdir -p "$OTPGATE_DEB_DIR"
debian/rules binary
deb=$(ls "$OTPGATE_DEB_DIR"/otpgate_*.deb)
if [ "${OTPGATE_LINTIAN:-}" = no ]; then echo "build-deb: $deb (lintian skipped)"; exit 0; fi
# Informational only, and not ours: "spelling-error-in-binary" comes from strings in
# the statically linked Swift runtime and packages.
lintian --fail-on error,warning --suppress-tags spelling-error-in-binary "$deb" || {
    echo "build-deb: lintian found errors in $deb" >&2; exit 1; }
echo "build-deb: $deb ($(du -k "$deb" | cut -f1) KiB; installed $(dpkg-deb -f "$deb" Installed-Size) KiB)"
