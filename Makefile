# The user-facing verbs (README.md): build, demo, test, fuzz, bench.
# `make build` installs the Debian packages that are missing (and only those), then builds.

DEBIAN_PACKAGES := cmake ninja-build g++ pkg-config \
	libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libsqlite3-dev \
	libyaml-cpp-dev libcli11-dev libpq-dev postgresql libgtest-dev libgmock-dev libbenchmark-dev libvirt-dev \
	prometheus-cpp-dev sqlite3 wrk nginx-light python3 libfaketime prometheus-alertmanager prometheus \
	chromium clang libclang-rt-14-dev llvm \
	slurm-wlm munge openipmi ipmitool libfreeipmi-dev libgoogle-perftools-dev
# Node 20 may come from outside Debian (with its own npm): install Debian's only when absent.
NODE_PACKAGES := $(if $(shell command -v node),,nodejs) $(if $(shell command -v npm),,npm)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS ?= $(shell nproc)
DEMO_DB ?= sqlite:./noderepair-demo.db
DEMO_LISTEN ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_SECONDS ?= 10
# The backends the black-box suite runs on, one pass each (tests/README.md).
TEST_BACKENDS ?= sqlite postgres

.PHONY: all deps build asan demo lab test unit-test blackbox-test blackbox-test-sqlite blackbox-test-postgres fuzz-build fuzz fuzz-smoke bench clean

all: build

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES) $(NODE_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake --preset default >/dev/null
	cmake --build --preset default -j $(JOBS)

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

# demo/config.yaml turns every fleet-intelligence knob on (docs/http-api.md 11).
demo: build
	./build/noderepair serve --demo --config demo/config.yaml --db $(DEMO_DB) --listen $(DEMO_LISTEN)

# A private Slurm cluster with a BMC per host, and noderepair repairing it (README "make lab").
lab: build
	lab/run.sh

unit-test: build asan
	ctest --preset default
	ctest --preset asan

tests/node_modules/.package-lock.json: tests/package.json tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund --loglevel=error

blackbox-test: $(addprefix blackbox-test-,$(TEST_BACKENDS))

# tests/postgres.test.mjs starts and crashes a server of its own: it runs in the PostgreSQL pass.
blackbox-test-sqlite: build tests/node_modules/.package-lock.json
	cd tests && node --test --test-concurrency=2 $(filter-out postgres.test.mjs replicas.test.mjs,$(notdir $(wildcard tests/*.test.mjs)))

# The same suite, each server on a fresh database of a private PostgreSQL server that is
# stopped however the run ends.
blackbox-test-postgres: build tests/node_modules/.package-lock.json
	@pgdir=$$(mktemp -d); \
	trap '$(CURDIR)/tools/private-postgres.sh stop "$$pgdir"; rm -rf "$$pgdir"' EXIT; \
	trap 'exit 130' INT TERM; \
	uri=$$($(CURDIR)/tools/private-postgres.sh start "$$pgdir") || exit 1; \
	echo "private PostgreSQL: $$uri"; \
	cd tests && NODEREPAIR_TEST_PG="$$uri" node --test --test-concurrency=2

# The parsers alone, with clang, libFuzzer, ASan and UBSan (fuzz/README.md).
fuzz-build: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

# Every fuzz target for FUZZ_SECONDS, one at a time; prints exec/s and coverage of each.
fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS)

# For `make test`: every regression seed replayed, then each target for a few seconds.
fuzz-smoke: fuzz-build
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

test: unit-test blackbox-test fuzz-smoke

bench: build
	bench/run.sh
	bench/engine_health.sh
	bench/postgres.sh

clean:
	rm -rf build build-asan build-fuzz
