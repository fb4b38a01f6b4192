#!/usr/bin/env python3
"""Print the Debian mirror apt is configured with for SUITE (argv[1]): the
first "deb" source of that suite in /etc/apt/sources.list, then in
/etc/apt/sources.list.d (one-line *.list and deb822 *.sources files), else
the first "deb" source of any suite that is not a security archive.
Exit 1 when there is none. Used by build-debian.bats (debootstrap)."""
import glob
import re
import sys


def one_line(path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], [words[2]]


def deb822(path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return
    for stanza in re.split(r"\n[ \t]*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if not line or line.startswith("#") or line[0].isspace() or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []) or fields.get("enabled", ["yes"])[0].lower() == "no":
            continue
        for uri in fields.get("uris", []):
            yield uri, fields.get("suites", [])


def sources():
    yield from one_line("/etc/apt/sources.list")
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*")):
        if path.endswith(".list"):
            yield from one_line(path)
        elif path.endswith(".sources"):
            yield from deb822(path)


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else "bookworm"
    found = list(sources())
    for uri, suites in found:
        if suite in suites and uri.startswith(("http://", "https://")):
            print(uri)
            return 0
    for uri, suites in found:
        if uri.startswith(("http://", "https://")) and "security" not in uri and \
                not any(s.endswith("-security") for s in suites):
            print(uri)
            return 0
    return 1


sys.exit(main())
