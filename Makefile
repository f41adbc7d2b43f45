# Ben: the two commands are `make demo` and `make test` (README.md). Both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CEL_CONFORMANCE_DIR ?= $(abspath ../shared/conformance/cel)
export CEL_CONFORMANCE_DIR

PREFIX ?= /usr/local
DESTDIR ?=
CONFIGURATION ?= release

.PHONY: help deps build test demo bench bench-builds conformance check-boundaries format-lint install clean

help:
	@echo "make demo   - set up and run a local fleet deploying examples/intent"
	@echo "make test   - set up and run every test"
	@echo "make bench  - run the benchmarks and print figures"
	@echo "make install PREFIX=/usr/local - build (release) and install executables, completions, systemd units"

# Installs the system packages and Python modules the build, tests and demo use. Idempotent: apt runs only
# when something is missing.
deps:
	@.ci/install-deps

build: deps
	@.ci/build --build-tests

check-boundaries:
	@.ci/check-boundaries

format-lint:
	@.ci/format-lint

bench-builds:
	@.ci/bench-builds

test: build check-boundaries format-lint bench-builds
	swift test --skip-build
	@if [ -d "$(CEL_CONFORMANCE_DIR)" ] && [ -x .build/debug/ben-conformance ]; then \
		$(MAKE) --no-print-directory conformance; \
	fi
	@.ci/demo-check

conformance:
	.build/debug/ben-conformance --dir "$(CEL_CONFORMANCE_DIR)" --floor Tests/Conformance/floor.json

demo: deps
	@.ci/build
	@examples/demo.sh

bench: deps
	@Benchmarks/run.sh

# Executables, shell completions, systemd units, sysusers file, example configs and docs under PREFIX
# (docs/operations.md, "Installing"). DESTDIR stages for packaging; CONFIGURATION=debug skips the release build's wait.
install: deps
	swift build -c $(CONFIGURATION) --product benctl
	swift build -c $(CONFIGURATION) --product ben-ledger
	swift build -c $(CONFIGURATION) --product ben-agent
	swift build -c $(CONFIGURATION) --product ben-sim
	packaging/install.sh --from "$$(swift build -c $(CONFIGURATION) --show-bin-path)" --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

clean:
	rm -rf .build Benchmarks/.build
