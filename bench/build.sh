#!/bin/bash
# kiln build against buildah bud, same Dockerfile and context, one run:
# FROM a busybox base, three RUN steps, a COPY of 2,000 small files and one
# 200 MiB file, ENV/WORKDIR/USER/CMD; and a two-stage variant. Cold build,
# fully cached rebuild, rebuild after changing one small file.
#   bench/build.sh PATH/TO/kiln      (root; needs hyperfine, buildah, podman)
# Env: RUNS (default 5), BIG_MB (default 200). The machine's load is printed
# before and after (a shared machine makes every figure noisy: compare the
# tools within one run).
set -euo pipefail
cd "$(dirname "$0")/.."
KILN=$(realpath "${1:-build/cli/kiln}")
RUNS=${RUNS:-5}
BIG_MB=${BIG_MB:-200}
W=$(mktemp -d /tmp/kiln-bench-build.XXXXXX)
export KILN_ROOT="$W/store" KILN_RUNTIME_ROOT="$W/rt"
B=(buildah --root "$W/bstore" --runroot "$W/brun" --storage-driver overlay)
P=(podman --root "$W/bstore" --runroot "$W/brun" --storage-driver overlay)
cleanup() {
	"${B[@]}" rm -a >/dev/null 2>&1 || true
	"${P[@]}" system reset -f >/dev/null 2>&1 || true
	umount -R "$W/bstore/overlay" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

scripts/busybox-rootfs.sh "$W/rootfs" >/dev/null
tar -C "$W/rootfs" -cf "$W/bb.tar" .
"$KILN" import -q "$W/bb.tar" bench/bb:1 >/dev/null
"${P[@]}" import -q "$W/bb.tar" localhost/bench/bb:1 >/dev/null

# the context
C="$W/ctx"
mkdir -p "$C/files"
for i in $(seq 2000); do echo "small file $i" >"$C/files/f$i.txt"; done
head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$C/big.bin"
cat >"$C/Dockerfile" <<'EOF'
FROM BASE
ENV APP=/app MODE=bench
WORKDIR /app
RUN echo one > /app/one && mkdir -p /app/data
COPY files/ /app/files/
COPY big.bin /app/data/big.bin
RUN ls /app/files | wc -l > /app/count
RUN echo three > /app/three
USER 1000:1000
CMD ["cat", "/app/count"]
EOF
cat >"$C/Dockerfile.2" <<'EOF'
FROM BASE AS build
RUN mkdir -p /out && echo built > /out/built
COPY files/ /out/files/
RUN ls /out/files | wc -l > /out/count

FROM BASE
COPY --from=build /out/ /app/
WORKDIR /app
USER 1000:1000
CMD ["cat", "/app/count"]
EOF
for f in Dockerfile Dockerfile.2; do
	sed 's#^FROM BASE#FROM bench/bb:1#' "$C/$f" >"$C/$f.kiln"
	sed 's#^FROM BASE#FROM localhost/bench/bb:1#' "$C/$f" >"$C/$f.buildah"
done

kb() { echo "$KILN build -q -f $C/$1.kiln -t bench/out:1 $2 $C"; }
bb() { echo "${B[*]} bud --layers -q -f $C/$1.buildah -t bench-out $2 $C"; }

echo "== load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min), $(nproc) CPUs"
for df in Dockerfile Dockerfile.2; do
	echo "== $df: cold build (no cache)"
	hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$W/cold-$df.json" \
		-n "kiln build --no-cache" "$(kb "$df" --no-cache)" \
		-n "kiln build --no-cache --compression gzip" "$(kb "$df" '--no-cache --compression gzip')" \
		-n "buildah bud --no-cache" "$(bb "$df" --no-cache)"
	echo "== $df: fully cached rebuild"
	eval "$(kb "$df" '')" >/dev/null
	eval "$(bb "$df" '')" >/dev/null
	hyperfine -N --warmup 2 --runs "$((RUNS * 4))" --export-json "$W/cached-$df.json" \
		-n "kiln build (cached)" "$(kb "$df" '')" \
		-n "buildah bud (cached)" "$(bb "$df" '')"
	echo "== $df: rebuild after changing one small file"
	n=0
	hyperfine -N --runs "$RUNS" --export-json "$W/touch-$df.json" \
		--prepare "sh -c 'echo \$\$ >> $C/files/f7.txt'" \
		-n "kiln build (one file changed)" "$(kb "$df" '')" \
		-n "buildah bud (one file changed)" "$(bb "$df" '')"
	python3 - "$W" "$df" <<'PY'
import json, sys
w, df = sys.argv[1], sys.argv[2]
for kind in ("cold", "cached", "touch"):
    r = {x["command"]: x for x in json.load(open(f"{w}/{kind}-{df}.json"))["results"]}
    b = [v for n, v in r.items() if n.startswith("buildah")][0]
    for n, k in r.items():
        if not n.startswith("kiln"):
            continue
        gz = " gzip" if "gzip" in n else ""
        print("%s %-7s kiln%-5s %8.1f ms (median %8.1f)  buildah %8.1f ms (median %8.1f)  buildah/kiln %.1fx (medians %.1fx)"
              % (df, kind, gz, k["mean"] * 1e3, k["median"] * 1e3, b["mean"] * 1e3, b["median"] * 1e3,
                 b["mean"] / k["mean"], b["median"] / k["median"]))
PY
done

# the 200 MiB COPY alone: a build of FROM + that COPY, no cache, against the
# same build of a 1-byte file (what a build costs besides the COPY); kiln with
# its default (uncompressed layers, as buildah keeps them) and with gzip and
# zstd, buildah alongside
printf 'FROM bench/bb:1\nCOPY big.bin /big.bin\n' >"$C/Dockerfile.big.kiln"
printf 'FROM bench/bb:1\nCOPY tiny.bin /tiny.bin\n' >"$C/Dockerfile.tiny.kiln"
printf 'FROM localhost/bench/bb:1\nCOPY big.bin /big.bin\n' >"$C/Dockerfile.big.buildah"
printf 'FROM localhost/bench/bb:1\nCOPY tiny.bin /tiny.bin\n' >"$C/Dockerfile.tiny.buildah"
echo x >"$C/tiny.bin"
echo "== COPY of the $BIG_MB MiB file (FROM + COPY, --no-cache)"
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$W/copy.json" \
	-n "kiln tiny" "$(kb Dockerfile.tiny --no-cache)" \
	-n "kiln big" "$(kb Dockerfile.big --no-cache)" \
	-n "kiln big gzip" "$(kb Dockerfile.big '--no-cache --compression gzip')" \
	-n "kiln big zstd" "$(kb Dockerfile.big '--no-cache --compression zstd')" \
	-n "buildah tiny" "$(bb Dockerfile.tiny --no-cache)" \
	-n "buildah big" "$(bb Dockerfile.big --no-cache)"
python3 - "$W" "$BIG_MB" <<'PY'
import json, sys
w, mb = sys.argv[1], int(sys.argv[2])
r = {x["command"]: x for x in json.load(open(f"{w}/copy.json"))["results"]}
size = mb * 1048576 / 1e6  # MB
for tool in ("kiln", "buildah"):
    tiny = r[f"{tool} tiny"]["median"]
    for name in [n for n in r if n.startswith(f"{tool} big")]:
        t = r[name]["median"]
        step = t - tiny
        print("COPY %d MiB %-14s whole build %6.0f ms (median) %5.0f MB/s; the COPY alone (minus a 1-byte COPY build, %3.0f ms) %6.0f ms %5.0f MB/s"
              % (mb, name, t * 1e3, size / t, tiny * 1e3, step * 1e3, size / step if step > 0 else float("inf")))
PY
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
