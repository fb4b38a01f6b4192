# kiln — top-level entry points. See README.md.
#   make deps     install every Debian package the build, tests and benchmarks use
#   make          build (build/)
#   make check    deps + ASan/UBSan build + every test suite
#   make demo     deps + build + the demo (busybox base image: import, tag, inspect; kiln build of examples/hello; run; fsck)
#   make install  install kiln (PREFIX=/usr/local)
#   make bench    run the benchmarks in bench/ (slow)

PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz

# Debian 12 packages: build, libraries, tests, peers, benchmarks.
DEPS_BUILD = gcc make meson ninja-build pkg-config clang libclang-rt-14-dev git
DEPS_LIBS = libarchive-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev libssl-dev libjansson-dev libsqlite3-dev libseccomp-dev libcap-dev
DEPS_TEST = libcmocka-dev bats jq busybox-static skopeo buildah debootstrap umoci oci-image-tool tar gzip zstd xz-utils bzip2 python3 attr \
	crun runc podman conmon uidmap iproute2 nftables passt slirp4netns util-linux procps curl bsdutils \
	golang-go golang-github-opencontainers-runtime-tools-dev debootstrap debian-archive-keyring
DEPS_BENCH = hyperfine time pigz
DEPS = $(DEPS_BUILD) $(DEPS_LIBS) $(DEPS_TEST) $(DEPS_BENCH)

.PHONY: all build deps check demo install bench fuzz unit integration clean

all: build

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "all dependencies installed"; \
	fi

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false

check: deps $(ASAN_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ninja -C $(FUZZ_BUILD)
	tests/run-all.sh $(ASAN_BUILD) $(FUZZ_BUILD)

unit: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --suite unit

integration: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	KILN=$(CURDIR)/$(ASAN_BUILD)/cli/kiln bats tests/integration

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} tests/fuzz/run.sh $(FUZZ_BUILD)

demo: deps build
	scripts/demo.sh $(BUILD)/cli/kiln

install: build
	meson install -C $(BUILD)

bench: build
	bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
