#!/usr/bin/env bats
# kiln build on a realistic base: a Debian bookworm rootfs made by
# `debootstrap --variant=minbase` from the mirror apt is configured with
# (/etc/apt/sources.list or sources.list.d, see debian-mirror.py).
#
# The rootfs is made once and kept in $KILN_TEST_CACHE (default
# /var/cache/kiln-tests)/debian-bookworm-minbase; later runs reuse it (its
# "done" file says from which mirror and when). Delete that directory, or
# set KILN_TEST_DEBIAN_REFRESH=1, to make it again (KILN_TEST_DEBIAN_MIRROR
# names another mirror than apt's). When debootstrap is not
# installed or cannot reach the mirror, every test here is skipped with a
# note saying so.
#
# Network: only debootstrap talks to the mirror; the builds run with
# --network none and contact nothing.

bats_require_minimum_version 1.5.0
load helpers

SUITE=bookworm

# The rootfs in $2/rootfs, made by debootstrap from mirror $1 unless it is
# there already (log in $3).
make_rootfs() {
	if [ -z "${KILN_TEST_DEBIAN_REFRESH:-}" ] && [ -f "$2/done" ]; then
		return 0
	fi
	rm -rf "$2.tmp"
	if ! debootstrap --variant=minbase "$SUITE" "$2.tmp/rootfs" "$1" >"$3" 2>&1; then
		rm -rf "$2.tmp"
		return 1
	fi
	echo "$1 $(date -u +%FT%TZ)" >"$2.tmp/done"
	rm -rf "$2"
	mv "$2.tmp" "$2"
}

# bats 1.8 cannot skip in setup_file: it exports DEBIAN_SKIP (why), and
# setup() skips each test with it.
setup_file() {
	if [ "$(id -u)" -ne 0 ]; then
		export DEBIAN_SKIP="needs root (debootstrap, kiln build)"
		return 0
	fi
	if ! command -v debootstrap >/dev/null; then
		export DEBIAN_SKIP="debootstrap is not installed (make deps installs it)"
		return 0
	fi
	local mirror cache dir log
	if ! mirror=${KILN_TEST_DEBIAN_MIRROR:-$(python3 "$BATS_TEST_DIRNAME/debian-mirror.py" "$SUITE")}; then
		export DEBIAN_SKIP="no Debian mirror in /etc/apt/sources.list or sources.list.d"
		return 0
	fi
	cache=${KILN_TEST_CACHE:-/var/cache/kiln-tests}
	dir=$cache/debian-$SUITE-minbase
	log=$cache/debootstrap-$SUITE.log
	mkdir -p "$cache"
	# under a lock: another run may be making it at the same time
	if ! (flock 9 && make_rootfs "$mirror" "$dir" "$log") 9>"$cache/debian-$SUITE.lock"; then
		export DEBIAN_SKIP="debootstrap could not make a $SUITE rootfs from $mirror (mirror unreachable?): $(grep -E '^(E|W):' "$log" | tail -n 1) (see $log)"
		return 0
	fi
	# one store for the file: the rootfs is imported once
	export KILN_ROOT="$BATS_FILE_TMPDIR/store"
	export KILN_RUNTIME_ROOT="$BATS_FILE_TMPDIR/rt"
	mkdir -p "$KILN_ROOT"
	"$KILN" import "$dir/rootfs" debian:$SUITE >/dev/null
}

setup() {
	[ -z "${DEBIAN_SKIP:-}" ] || skip "$DEBIAN_SKIP"
	CTX="$BATS_TEST_TMPDIR/ctx"
	mkdir -p "$CTX"
}

teardown() {
	remove_containers
}

@test "debian: useradd, dpkg, a multi-stage build, USER and COPY --chown by name" {
	cat >"$CTX/app.sh" <<'EOF2'
#!/bin/bash
set -euo pipefail
echo "hello from $(id -un):$(id -gn) ($(id -u):$(id -g)) in $PWD"
echo "config: $(tr '\n' ' ' < /opt/app/config)"
cd /opt/app && sha256sum --quiet -c SHA256SUMS && echo sums-ok
EOF2
	printf 'beta\nalpha\nbeta\ngamma\n' >"$CTX/config.txt"
	cat >"$CTX/Dockerfile" <<'EOF2'
FROM debian:bookworm AS build
RUN dpkg -l | awk '/^ii/ {print $2}' | sed 's/:.*//' > /packages && grep -qx coreutils /packages
WORKDIR /src
COPY app.sh config.txt ./
RUN mkdir -p /out/bin \
 && install -m 0755 app.sh /out/bin/app \
 && sort -u config.txt > /out/config \
 && cd /out && sha256sum bin/app config > SHA256SUMS \
 && cp /packages /out/packages

FROM debian:bookworm
RUN groupadd --gid 2345 appgroup \
 && useradd --create-home --uid 1234 --gid appgroup --shell /bin/bash appuser \
 && dpkg-query -W -f='${Status}\n' bash | grep -q 'install ok installed'
COPY --from=build --chown=appuser:appgroup /out /opt/app
USER appuser
WORKDIR /home/appuser
ENV PATH=/opt/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["app"]
EOF2
	run -0 kiln build --network none -t deb-app:1 "$CTX"
	run -0 kiln run --rm --network none deb-app:1
	[ "${lines[0]}" = "hello from appuser:appgroup (1234:2345) in /home/appuser" ]
	[ "${lines[1]}" = "config: alpha beta gamma " ]
	[ "${lines[2]}" = sums-ok ]
	# COPY --chown names were resolved in the Debian /etc/passwd and /etc/group
	run -0 kiln run --rm --network none deb-app:1 stat -c '%U:%G %u:%g %a %n' /opt/app /opt/app/bin/app /opt/app/config
	[ "${lines[0]}" = "appuser:appgroup 1234:2345 755 /opt/app" ]
	[ "${lines[1]}" = "appuser:appgroup 1234:2345 755 /opt/app/bin/app" ]
	[ "${lines[2]}" = "appuser:appgroup 1234:2345 644 /opt/app/config" ]
	run -0 kiln run --rm --network none deb-app:1 getent passwd appuser
	[ "$output" = "appuser:x:1234:2345::/home/appuser:/bin/bash" ]
	# the package list of the build stage came along, the build tree did not
	run -0 kiln run --rm --network none deb-app:1 grep -cx -e dpkg -e bash -e coreutils /opt/app/packages
	[ "$output" = 3 ]
	run -1 kiln run --rm --network none deb-app:1 test -e /src/app.sh
	[ "$(kiln inspect --format '{{.Config.User}}' deb-app:1)" = appuser ]
	# a second build is all from the cache, the same image
	id1=$(kiln inspect --format '{{.Id}}' deb-app:1)
	run -0 kiln build --network none -t deb-app:2 "$CTX"
	[[ "$output" == *"RUN groupadd"*" CACHED"* ]]
	[ "$(kiln inspect --format '{{.Id}}' deb-app:2)" = "$id1" ]
}

@test "debian: RUN sees the image's passwd for USER by name, and apt's state is intact" {
	cat >"$CTX/Dockerfile" <<'EOF2'
FROM debian:bookworm
RUN useradd --system --no-create-home svc
USER svc
RUN id -un > /tmp/who && touch /tmp/made-by-svc
USER root
RUN stat -c '%U' /tmp/made-by-svc >> /tmp/who && apt-get --version | head -n 1 >> /tmp/who \
 && dpkg --audit && echo audit-clean >> /tmp/who
EOF2
	run -0 kiln build --network none -t deb-user:1 "$CTX"
	run -0 kiln run --rm --network none deb-user:1 cat /tmp/who
	[ "${lines[0]}" = svc ]
	[ "${lines[1]}" = svc ]
	[[ "${lines[2]}" == "apt "* ]]
	[ "${lines[3]}" = audit-clean ]
}
