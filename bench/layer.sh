#!/bin/bash
# Layer engine benchmark: kiln layer create/apply vs umoci, tar|gzip,
# tar|zstd, and sha256sum of the same bytes as the lower bound.
#   bench/layer.sh [KILN_BINARY]      env: SMALL_FILES=20000 BIG_MB=1024 RUNS=3
# Needs: hyperfine, /usr/bin/time, umoci, zstd, gzip, tar. Run as root.
set -euo pipefail
BIN=${1:-${KILN:-build/cli/kiln}}
SMALL_FILES=${SMALL_FILES:-20000}
BIG_MB=${BIG_MB:-1024}
RUNS=${RUNS:-3}
W=$(mktemp -d /tmp/kiln-bench-layer.XXXXXX)
trap 'rm -rf "$W"' EXIT
BIN=$(readlink -f "$BIN")

echo "== generating data in $W (small: $SMALL_FILES files, big: ${BIG_MB} MiB)"
mkdir -p "$W/small" "$W/big"
python3 - "$W/small" "$SMALL_FILES" <<'PY'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "wb") as f:
        # half text-like (compressible), half random
        size = rnd.randint(100, 8000)
        f.write((b"line %d of some config text\n" % i) * (size // 30) if i % 2 else os.urandom(size))
PY
# 1 GiB: mix of compressible and random data, like a real binary layer
python3 - "$W/big/blob" "$BIG_MB" <<'PY'
import os, sys
path, mb = sys.argv[1], int(sys.argv[2])
chunk_r = os.urandom(1 << 20)
chunk_t = b"".join(b"%08d some repetitive payload text\n" % i for i in range(30000))[: 1 << 20]
with open(path, "wb") as f:
    for i in range(mb):
        f.write(chunk_r if i % 4 == 0 else chunk_t)
PY
sync

peak() { # peak RSS in MiB of a command
        /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'
}

# hb NAME PREPARE CMD: time CMD with hyperfine (PREPARE before each run), print and keep the mean
hb() {
        local j="$W/hb.json"
        hyperfine --runs "$RUNS" --warmup 1 --prepare "$2" --export-json "$j" -n "$1" "$3" >/dev/null 2>&1 ||
                { echo "$1: FAILED: $3" >&2; echo 0; return; }
        python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$j"
}

for set in small big; do
        SRC="$W/$set"
        echo
        echo "==== $set: create ===="
        # umoci: an image whose bundle rootfs holds the files
        umoci init --layout "$W/oci-$set" >/dev/null
        umoci new --image "$W/oci-$set:t" >/dev/null
        umoci unpack --rootless --image "$W/oci-$set:t" "$W/bundle-$set" >/dev/null 2>&1 || \
                umoci unpack --image "$W/oci-$set:t" "$W/bundle-$set" >/dev/null
        cp -a "$SRC/." "$W/bundle-$set/rootfs/"
        kz=$(hb "kiln zstd" true "$BIN layer create $SRC $W/l.zst --compression zstd")
        kg=$(hb "kiln gzip" true "$BIN layer create $SRC $W/l.gz --compression gzip")
        um=$(hb "umoci repack" "rm -rf $W/oci-$set-r; cp -a $W/oci-$set $W/oci-$set-r" \
                "umoci repack --image $W/oci-$set-r:t $W/bundle-$set")
        tg=$(hb "tar|gzip" true "tar -C $SRC -cf - . | gzip > $W/t.gz")
        tz=$(hb "tar|zstd -T0" true "tar -C $SRC -cf - . | zstd -q -T0 > $W/t.zst")
        sh=$(hb "tar|sha256sum" true "tar -C $SRC -cf - . | sha256sum >/dev/null")
        printf "%-18s %8s s\n" "kiln zstd" "$kz" "kiln gzip" "$kg" "umoci repack" "$um" "tar|gzip" "$tg" "tar|zstd -T0" "$tz" "tar|sha256sum" "$sh"
        python3 -c "import sys; kz,kg,um,tg,tz,sh=map(float,sys.argv[1:]); print('create ratios: umoci/kiln-zstd %.1fx, umoci/kiln-gzip %.1fx, tar|zstd/kiln-zstd %.2fx, tar|gzip/kiln-gzip %.2fx, kiln-zstd/sha256 limit %.2fx' % (um/kz, um/kg, tz/kz, tg/kg, kz/sh))" "$kz" "$kg" "$um" "$tg" "$tz" "$sh"
        echo "peak RSS create: kiln zstd $(peak "$BIN" layer create "$SRC" "$W/l.zst" --compression zstd) MiB," \
             "kiln gzip $(peak "$BIN" layer create "$SRC" "$W/l.gz" --compression gzip) MiB"

        echo
        echo "==== $set: apply ===="
        # umoci unpack of the repacked image (gzip layer) vs kiln apply of the same gzip layer
        rm -rf "$W/oci-$set-r"; cp -a "$W/oci-$set" "$W/oci-$set-r"
        umoci repack --image "$W/oci-$set-r:t" "$W/bundle-$set" >/dev/null
        blob=$(ls -S "$W/oci-$set-r/blobs/sha256/" | head -1)
        cp "$W/oci-$set-r/blobs/sha256/$blob" "$W/umoci-layer.gz"
        ag=$(hb "kiln apply gzip" "rm -rf $W/x; mkdir $W/x" "$BIN layer apply $W/umoci-layer.gz $W/x")
        az=$(hb "kiln apply zstd" "rm -rf $W/x; mkdir $W/x" "$BIN layer apply $W/l.zst $W/x")
        uu=$(hb "umoci unpack" "rm -rf $W/ub" "umoci unpack --image $W/oci-$set-r:t $W/ub")
        gt=$(hb "gzip -dc|tar -x" "rm -rf $W/x; mkdir $W/x" "gzip -dc < $W/umoci-layer.gz | tar -C $W/x -xf -")
        s2=$(hb "sha256sum" true "sha256sum $W/umoci-layer.gz")
        printf "%-18s %8s s\n" "kiln apply gzip" "$ag" "kiln apply zstd" "$az" "umoci unpack" "$uu" "gzip -dc|tar -x" "$gt" "sha256sum" "$s2"
        python3 -c "import sys; ag,az,uu,gt=map(float,sys.argv[1:]); print('apply ratios: umoci/kiln-gzip %.1fx, umoci/kiln-zstd %.1fx, gzip|tar/kiln-gzip %.2fx' % (uu/ag, uu/az, gt/ag))" "$ag" "$az" "$uu" "$gt"
        rm -rf "$W/x"; mkdir "$W/x"
        echo "peak RSS apply: kiln gzip $(peak "$BIN" layer apply "$W/umoci-layer.gz" "$W/x") MiB"
        # the same on a tmpfs: the engine's cost without this disk's file-creation cost,
        # which dominates many small files on a VM disk (and varies run to run)
        if [ "$(id -u)" -eq 0 ] && mkdir -p "$W/t" && mount -t tmpfs -o size=3g tmpfs "$W/t" 2>/dev/null; then
                cp "$W/umoci-layer.gz" "$W/l.zst" "$W/t/"
                cp -a "$W/oci-$set-r" "$W/t/oci"
                tag=$(hb "kiln apply gzip (tmpfs)" "rm -rf $W/t/x; mkdir $W/t/x" "$BIN layer apply $W/t/umoci-layer.gz $W/t/x")
                taz=$(hb "kiln apply zstd (tmpfs)" "rm -rf $W/t/x; mkdir $W/t/x" "$BIN layer apply $W/t/l.zst $W/t/x")
                tuu=$(hb "umoci unpack (tmpfs)" "rm -rf $W/t/ub" "umoci unpack --image $W/t/oci:t $W/t/ub")
                tgt=$(hb "gzip -dc|tar -x (tmpfs)" "rm -rf $W/t/x; mkdir $W/t/x" "gzip -dc < $W/t/umoci-layer.gz | tar -C $W/t/x -xf -")
                printf "%-26s %8s s\n" "kiln apply gzip (tmpfs)" "$tag" "kiln apply zstd (tmpfs)" "$taz" "umoci unpack (tmpfs)" "$tuu" "gzip -dc|tar -x (tmpfs)" "$tgt"
                python3 -c "import sys; ag,az,uu,gt=map(float,sys.argv[1:]); print('apply ratios (tmpfs): umoci/kiln-gzip %.1fx, umoci/kiln-zstd %.1fx, gzip|tar/kiln-gzip %.2fx' % (uu/ag, uu/az, gt/ag))" "$tag" "$taz" "$tuu" "$tgt"
                umount "$W/t"
        fi
        rm -rf "$W/x" "$W/ub" "$W/oci-$set-r" "$W/bundle-$set" "$W/oci-$set"
done
