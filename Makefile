# otpgate: build, test, clean.
# `make test` is what CI runs; it installs the Debian packages it needs first.

# The Swift toolchain: SWIFT=/path/to/swift, else found on PATH or where toolchains
# are usually installed (sudo's secure_path drops /opt/swift; scripts/find-swift.sh).
ifeq ($(origin SWIFT),undefined)
SWIFT := $(shell scripts/find-swift.sh 2>/dev/null)
endif
SWIFT_FLAGS ?=
PREFIX      ?= /usr/local
DESTDIR     ?=
# What is installed and packaged: release, the Swift runtime linked in (the binaries
# must not depend on a toolchain directory), only the two programs.
RELEASE     = -c release --static-swift-stdlib $(SWIFT_FLAGS)

# Packages needed to build (headers and libraries) and to test (peers, tools).
BUILD_DEPS  = pkg-config gcc make libssl-dev libsqlite3-dev libpam0g-dev libqrencode-dev scdoc
DEB_DEPS    = debhelper dpkg-dev lintian
TEST_DEPS   = oathtool iproute2 openssl strace gdb libpam-google-authenticator libpam-oath socat python3 python3-pexpect systemd util-linux passwd pamtester openssh-server openssh-client sudo zbar-tools librsvg2-bin tmux imagemagick man-db bash-completion logrotate postgresql $(DEB_DEPS)

.PHONY: all build test test-pg deps test-deps toolchain release man deb bench bench-fleet install uninstall clean

all: build

# Fails with what to do when there is no toolchain.
toolchain:
	@[ -n "$(SWIFT)" ] || scripts/find-swift.sh >/dev/null

deps: toolchain
	@scripts/ensure-deps.sh $(BUILD_DEPS)

test-deps: deps
	@scripts/ensure-deps.sh $(TEST_DEPS)

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)
	$(MAKE) -C pam

# The tests build otpgated with the PostgreSQL store (the tier tests need it; a
# single-host build leaves it out: docs/POSTGRES.md, build time).
test: SWIFT_FLAGS += --traits Fleet
test: test-deps
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)
	scripts/check-units.sh "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated"
	$(MAKE) -C pam test
	python3 Tests/System/test_pg_schema.py
	python3 Tests/System/test_tier.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	python3 Tests/System/test_tier_rekey.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	python3 Tests/System/test_relay.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)" pam/build/pam_otpgate.so
	scripts/test-clone-path.sh
	python3 Tests/System/test_logins.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated" pam/build/pam_otpgate.so
	python3 Tests/System/test_logins.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated" pam/build/pam_otpgate.so --through-relay
	python3 Tests/System/test_import.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	python3 Tests/System/test_parity.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated" pam/build
	python3 Tests/System/test_memory_secrets.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated"
	scripts/test-install-destdir.sh "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	$(MAKE) -C bench/floor
	bench/floor/smoke.sh "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)" bench/floor/build/otpgate-floor
	$(MAKE) man
	python3 scripts/check-man.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgate" "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated" build/man
	python3 Tests/System/test_qr_terminal.py "$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	$(MAKE) deb DEB_COMPRESS=gzip
	$(MAKE) deb DEB_COMPRESS=gzip DEB_VERSION=$$(dpkg-parsechangelog -S Version)+upgradetest1 DEB_DIR=build/deb-upgrade LINTIAN=no
	python3 Tests/System/test_package.py build/deb/otpgate_*.deb build/deb-upgrade/otpgate_*.deb

# The PostgreSQL store's schema and functions (docs/POSTGRES.md) against a throwaway
# cluster (Tests/System/pgfixture.py); needs no Swift toolchain.
test-pg:
	@scripts/ensure-deps.sh postgresql python3
	python3 Tests/System/test_pg_schema.py

# Benchmarks (docs/PERFORMANCE.md): release build and the floor server (bench/floor),
# then probes of the parts (fsync, commit, HMAC, socket), verify load closed and open
# loop with the fsync count, each beside the floor on the same population (ratios
# printed), start-up and memory, and (as root) PAM logins against
# pam_google_authenticator, pam_oath and the floor, interleaved and idle. About 7
# minutes. Bigger: make bench BENCH_USERS=1000000 (enrols once into BENCH_STATE,
# reused by every scenario with the limiter cleared between them, removed at the end).
BENCH_DEPS     = pamtester strace libpam-google-authenticator libpam-oath
BENCH_USERS    ?= 10000
BENCH_DURATION ?= 10
BENCH_RUNS     ?= 200
BENCH_ROUNDS   ?= 2
BENCH_IDLE     ?= 3
BENCH_IDLE_GAP ?= 2
BENCH_STATE    ?= /var/tmp/otpgate-bench-$(BENCH_USERS)
BENCH_FLOOR    = bench/floor/build/otpgate-floor

bench: deps
	@scripts/ensure-deps.sh $(BENCH_DEPS)
	$(SWIFT) build -c release $(SWIFT_FLAGS)
	$(MAKE) -C pam
	$(MAKE) -C bench/floor
	@set -e; B=$$($(SWIFT) build -c release $(SWIFT_FLAGS) --show-bin-path)/otpgate-bench; \
	S="--state-dir $(BENCH_STATE) --users $(BENCH_USERS)"; F="--floor $(BENCH_FLOOR)"; \
	trap 'rm -rf $(BENCH_STATE) $(BENCH_STATE)-hotp' EXIT; \
	$$B probe; \
	$$B load $$S $$F --rounds $(BENCH_ROUNDS) --connections 64 --duration $(BENCH_DURATION) --fsync-pass 5 --label "closed loop, 64 connections"; \
	$$B load $$S $$F --connections 1 --duration $(BENCH_DURATION) --label "closed loop, 1 connection"; \
	$$B load $$S $$F --rounds $(BENCH_ROUNDS) --connections 64 --rate 1000 --duration $(BENCH_DURATION) --label "open loop, 1000/s"; \
	$$B load $$S $$F --connections 64 --rate 1000 --duration $(BENCH_DURATION) --mix valid=50,wrong=25,replay=25 --label "open loop, 1000/s, half failures"; \
	$$B load --state-dir $(BENCH_STATE)-hotp --users 10000 --kind hotp $$F --connections 64 --duration $(BENCH_DURATION) --label "closed loop, HOTP (22 HMACs per verify)"; \
	$$B startup $$S --starts 5; \
	python3 scripts/timing-probe.py $$($(SWIFT) build -c release $(SWIFT_FLAGS) --show-bin-path)/otpgated --samples 2000; \
	if [ "$$(id -u)" -eq 0 ]; then $$B peers --runs $(BENCH_RUNS) --idle-logins $(BENCH_IDLE) --idle-gap $(BENCH_IDLE_GAP) --floor $(BENCH_FLOOR); \
	else echo "bench: PAM logins skipped (they need root: a temporary user and /etc/pam.d files)"; fi

# The verifier tier (issue 16; docs/PERFORMANCE.md, "A verifier tier on PostgreSQL"):
# release builds with the Fleet trait, then bench/fleet.py: one PostgreSQL (initdb in
# FLEET_WORK; fsync and synchronous_commit on, a declared single node), 1 and 3 tier
# daemons and pgbench on the same SQL (bench/fleet/*.sql), closed loop at 64
# connections and open loop at 1,000/s, interleaved in rounds; 2 relays at 64
# connections each beside the same nodes asked directly; PAM logins through a relay,
# on a tier node and with pam_google_authenticator. As root (PostgreSQL runs as
# nobody; a temporary user and /etc/pam.d files for the logins). About 5 minutes
# after the build.
FLEET_USERS    ?= 10000
FLEET_DURATION ?= 10
FLEET_ROUNDS   ?= 2
FLEET_WORK     ?= /var/tmp

bench-fleet: SWIFT_FLAGS += --traits Fleet
bench-fleet: deps
	@scripts/ensure-deps.sh postgresql python3 openssl pamtester libpam-google-authenticator
	$(SWIFT) build -c release $(SWIFT_FLAGS) --product otpgated
	$(SWIFT) build -c release $(SWIFT_FLAGS) --product otpgate-bench
	$(MAKE) -C pam
	python3 bench/fleet.py "$$($(SWIFT) build -c release $(SWIFT_FLAGS) --show-bin-path)" --users $(FLEET_USERS) \
		--duration $(FLEET_DURATION) --rounds $(FLEET_ROUNDS) --work $(FLEET_WORK) --module pam/build/pam_otpgate.so

# The release build of what is installed: otpgated, otpgate and the module (not the
# benchmark or the test helpers).
release: deps
	$(SWIFT) build $(RELEASE) --product otpgated
	$(SWIFT) build $(RELEASE) --product otpgate
	$(MAKE) -C pam

# Man pages from the scdoc sources in man/ into build/man.
MAN_PAGES = otpgate.1 otpgated.8 pam_otpgate.8 otpgated.toml.5
man: $(addprefix build/man/,$(MAN_PAGES))
build/man/%: man/%.scd
	@mkdir -p build/man
	scdoc < $< > $@

# Builds the release, creates the otpgate user, installs everything (stripped),
# creates the key if missing and starts the daemon (systemd if running, else the
# init script). Prints the pam.d and sshd_config lines to add; edits neither.
install: release man
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BINDIR=$$($(SWIFT) build $(RELEASE) --show-bin-path) scripts/install.sh

# Refuses while /etc/pam.d uses the module; FORCE=1 removes anyway.
uninstall:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) FORCE=$(FORCE) scripts/uninstall.sh

# build/deb/otpgate_<version>_<arch>.deb, from the release build (debhelper; see
# debian/rules). DEB_VERSION=... builds the same files under another version;
# DEB_COMPRESS=gzip compresses in seconds instead of minutes (make test uses it).
deb: release man
	@scripts/ensure-deps.sh $(DEB_DEPS)
	OTPGATE_BINDIR=$$($(SWIFT) build $(RELEASE) --show-bin-path) OTPGATE_DEB_VERSION=$(DEB_VERSION) \
	  OTPGATE_DEB_DIR=$(or $(DEB_DIR),build/deb) OTPGATE_LINTIAN=$(LINTIAN) OTPGATE_DEB_COMPRESS=$(or $(DEB_COMPRESS),xz) \
	  scripts/build-deb.sh

clean:
	rm -rf .build build
	[ ! -d debian/otpgate ] || debian/rules clean
	$(MAKE) -C pam clean
