# otpgate: build, test, clean.
# `make test` is what CI runs; it installs the Debian packages it needs first.

SWIFT       ?= swift
SWIFT_FLAGS ?=
PREFIX      ?= /usr/local
DESTDIR     ?=

# Packages needed to build (headers and libraries) and to test (peers, tools).
BUILD_DEPS  = pkg-config gcc make libssl-dev libsqlite3-dev libpam0g-dev libqrencode-dev
TEST_DEPS   = oathtool socat python3 python3-pexpect systemd util-linux passwd pamtester openssh-server openssh-client sudo zbar-tools librsvg2-bin

.PHONY: all build test deps test-deps install uninstall clean

all: build

deps:
	@scripts/ensure-deps.sh $(BUILD_DEPS)

test-deps: deps
	@scripts/ensure-deps.sh $(TEST_DEPS)

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)
	$(MAKE) -C pam

test: test-deps
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)
	scripts/check-units.sh $$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated
	$(MAKE) -C pam test
	python3 Tests/System/test_logins.py $$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)/otpgated pam/build/pam_otpgate.so
	scripts/test-install-destdir.sh $$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)

# Builds release binaries, creates the otpgate user, installs everything, creates
# the key if missing and starts the daemon (systemd if running, else in the
# background). Prints the pam.d and sshd_config lines to add; edits neither.
install: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)
	$(MAKE) -C pam
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BINDIR=$$($(SWIFT) build -c release $(SWIFT_FLAGS) --show-bin-path) scripts/install.sh

uninstall:
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/uninstall.sh

clean:
	rm -rf .build
	$(MAKE) -C pam clean
