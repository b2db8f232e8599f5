# otpgate: build, test, clean.
# `make test` is what CI runs; it installs the Debian packages it needs first.

SWIFT       ?= swift
SWIFT_FLAGS ?=

# Packages needed to build (headers and libraries) and to test (peers, tools).
BUILD_DEPS  = pkg-config gcc make libssl-dev libsqlite3-dev libpam0g-dev
TEST_DEPS   = oathtool socat python3 systemd util-linux passwd

.PHONY: all build test deps test-deps clean

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

clean:
	rm -rf .build
	$(MAKE) -C pam clean
