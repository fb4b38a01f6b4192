#!/usr/bin/env python3
"""Views of a built image that the corpus compares (kiln against its expected
files, kiln against buildah).

  corpus.py tree ROOT BASE_ROOT
      The file tree of ROOT minus BASE_ROOT, one line a path, sorted:
        PATH TYPE MODE UID:GID SIZE|->TARGET|- SHA256|- [hardlink=FIRST]
      TYPE is f d l c b p s; MODE is octal with the setuid/setgid/sticky bits;
      a path of BASE_ROOT whose line is the same is left out; a path of
      BASE_ROOT missing from ROOT is "PATH deleted". Times are not compared.
  corpus.py config CONFIG_JSON BASE_CONFIG_JSON [--buildah]
      The config fields, the history entries after the base's and the number
      of layers (rootfs.diff_ids, the base's included), as JSON.
      --buildah applies the normalisations docs/guide/build-compat.md lists
      (buildah's own label, the content hashes of COPY/ADD history).
"""
import hashlib
import json
import os
import re
import stat
import sys

FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
          "Volumes", "StopSignal", "Healthcheck", "Shell", "OnBuild"]


def listing(root):
    out = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = "/" + os.path.relpath(full, root)
            st = os.lstat(full)
            m = st.st_mode
            kind = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
                    stat.S_IFBLK: "b", stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}[stat.S_IFMT(m)]
            size, digest, extra = "-", "-", ""
            if kind == "f":
                size = str(st.st_size)
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                digest = h.hexdigest()
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    inodes.setdefault(key, []).append(rel)
            elif kind == "l":
                size = "->" + os.readlink(full)
            elif kind in "cb":
                size = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            out[rel] = [rel, kind, "%o" % stat.S_IMODE(m), "%d:%d" % (st.st_uid, st.st_gid), size, digest, extra]
    # hard links: every path of a group names the group's first path
    for paths in inodes.values():
        if len(paths) > 1:
            first = min(paths)
            for p in paths:
                out[p][6] = "hardlink=" + first
    return {k: " ".join(x for x in v if x) for k, v in out.items()}


def tree(root, base):
    img = listing(root)
    old = listing(base)
    lines = [line for path, line in img.items() if old.get(path) != line]
    lines += ["%s deleted" % path for path in old if path not in img]
    return sorted(lines)


def config(cfg_path, base_path, buildah):
    with open(cfg_path) as f:
        cfg = json.load(f)
    base = {}
    if base_path:
        with open(base_path) as f:
            base = json.load(f)
    c = cfg.get("config") or {}
    res = {"config": {k: c.get(k) for k in FIELDS}}
    res["config"]["Author"] = cfg.get("author")
    hist = cfg.get("history") or []
    bh = [h.get("created_by") for h in base.get("history") or []]
    n = 0
    while n < len(bh) and n < len(hist) and hist[n].get("created_by") == bh[n]:
        n += 1
    res["history"] = [{"created_by": h.get("created_by", ""), "empty_layer": bool(h.get("empty_layer"))}
                      for h in hist[n:]]
    # how many layers the image has, the base's included (--squash-all
    # leaves one, WORKDIR may add one)
    res["layers"] = len((cfg.get("rootfs") or {}).get("diff_ids") or [])
    if buildah:
        labels = res["config"]["Labels"]
        if labels is not None:
            labels.pop("io.buildah.version", None)
            if not labels:
                res["config"]["Labels"] = None
    for h in res["history"]:
        h["created_by"] = re.sub(r"\b(file|dir|multi):[0-9a-f]{64}\b", r"\1:HASH", h["created_by"])
    # an empty value is no value (buildah's docker-format config writes
    # "Cmd": [], "User": "" where kiln leaves the field out)
    for k, v in res["config"].items():
        if v in ("", [], {}):
            res["config"][k] = None
    return res


def main(argv):
    if len(argv) >= 3 and argv[0] == "tree":
        for line in tree(argv[1], argv[2]):
            print(line)
        return 0
    if len(argv) >= 2 and argv[0] == "config":
        args = [a for a in argv[1:] if not a.startswith("--")]
        res = config(args[0], args[1] if len(args) > 1 else None, "--buildah" in argv)
        print(json.dumps(res, indent=2, sort_keys=True, ensure_ascii=False))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
