#!/usr/bin/env bats
# kiln build: COPY/ADD --exclude, --parents, --link, --from an image or with
# wildcards, and ADD from http(s) URLs (with --checksum).

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
	CTX="$BATS_TEST_TMPDIR/ctx"
	mkdir -p "$CTX"
	HTTP_PID=
	# the test server is on 127.0.0.1: no proxy in between
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
}

teardown() {
	if [ -n "$HTTP_PID" ]; then
		kill "$HTTP_PID" 2>/dev/null || true
		wait "$HTTP_PID" 2>/dev/null || true
	fi
	remove_containers
}

# Serve $BATS_TEST_TMPDIR/www on 127.0.0.1 (tests/integration/http-server.py);
# sets URL (http://127.0.0.1:PORT) and HTTP_PID. Requests are logged to
# $BATS_TEST_TMPDIR/requests.log.
start_http() {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	python3 "$BATS_TEST_DIRNAME/http-server.py" "$BATS_TEST_TMPDIR/www" "$BATS_TEST_TMPDIR/port" 3>&- &
	HTTP_PID=$!
	for _ in $(seq 100); do
		[ -s "$BATS_TEST_TMPDIR/port" ] && break
		sleep 0.05
	done
	URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/port")"
}

# The paths in the top layer of an image built with --compression none.
top_layer_files() {
	local id
	id=$(kiln inspect --format '{{json .RootFS.Layers}}' "$1" | tr -d '[]"' | tr , '\n' | tail -1)
	tar -tf "$KILN_ROOT/oci/blobs/sha256/${id#sha256:}" | sort
}

# ---- --exclude ----

exclude_context() {
	mkdir -p "$CTX/dir1" "$CTX/dir2" "$CTX/dir3"
	echo 2 > "$CTX/dir1/file-101.png"
	echo 3 > "$CTX/dir1/file-102.txt"
	echo 4 > "$CTX/dir1/file-103.jpeg"
	echo 6 > "$CTX/dir2/file-201.pdf"
	echo 7 > "$CTX/dir2/file-202.jpeg"
	echo 9 > "$CTX/dir3/file-301.mp3"
	echo 10 > "$CTX/dir3/file-302.mpeg"
	echo h > "$CTX/home.txt"
	echo m > "$CTX/home.md"
}

@test "build --exclude: patterns match paths relative to each source, and a wildcard's matches" {
	exclude_context
	# BuildKit's own cases (dockerfile/dockerfile_exclude_test.go)
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
COPY --exclude=*/*.png --exclude=*/*.jpeg . /1
ADD --exclude=*.mp3 dir3/ /3/
COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/
ADD --exclude=* dir* /6/
COPY --exclude=*.txt hom* /7/
COPY --exclude=dir2 --exclude=**/*.mp3 --exclude=!dir3/file-301.mp3 --exclude=Dockerfile . /8/
EOF2
	run -0 kiln build -q -t ex:1 "$CTX"
	run -0 kiln run --rm ex:1 sh -c 'cd / && find 1 3 4 6 7 8 -type f | sort'
	[ "$output" = "1/Dockerfile
1/dir1/file-102.txt
1/dir2/file-201.pdf
1/dir3/file-301.mp3
1/dir3/file-302.mpeg
1/home.md
1/home.txt
3/file-302.mpeg
4/file-302.mpeg
7/home.md
8/dir1/file-101.png
8/dir1/file-102.txt
8/dir1/file-103.jpeg
8/dir3/file-301.mp3
8/dir3/file-302.mpeg
8/home.md
8/home.txt" ]
	run -0 kiln run --rm ex:1 ls -A /6
	[ "$output" = "" ]
	# an exception brings a file back from an excluded directory
	printf 'FROM bb:1\nCOPY --exclude=dir1 --exclude=!dir1/file-102.txt dir1 dir2 /9/\nCOPY --exclude=dir1 --exclude=!dir1/*.txt . /10/\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -t ex:2 "$CTX"
	run -0 kiln run --rm ex:2 sh -c 'cd / && find 9 10/dir1 -type f | sort'
	[ "$output" = "10/dir1/file-102.txt
9/file-101.png
9/file-102.txt
9/file-103.jpeg
9/file-201.pdf
9/file-202.jpeg" ]
	run -0 kiln history --no-trunc ex:1
	[[ "$output" == *'COPY dir:'* ]]
}

@test "build --exclude: excluded files are not in the cache key; a bad pattern is one line" {
	exclude_context
	printf 'FROM bb:1\nCOPY --exclude=*.txt --exclude=dir2 . /c/\nRUN ls -R /c > /list\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -t ek:1 "$CTX"
	id=$output
	echo changed >> "$CTX/home.txt"
	echo new > "$CTX/dir2/new.pdf"
	run -0 kiln build -t ek:2 "$CTX"
	[[ "$output" == *'COPY --exclude=*.txt --exclude=dir2 . /c/ CACHED'* ]]
	[[ "$output" == *'RUN ls -R /c > /list CACHED'* ]]
	[ "$(kiln inspect --format '{{.Id}}' ek:2)" = "$id" ]
	echo changed >> "$CTX/home.md"
	run -0 kiln build -t ek:3 "$CTX"
	[[ "$output" != *'. /c/ CACHED'* ]]
	printf 'FROM bb:1\nCOPY --exclude=[ . /c/\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == 'Error: Dockerfile:2: COPY --exclude=[ . /c/: --exclude: '* ]]
}

# ---- --parents ----

@test "build COPY --parents: parent directories kept, /./ pivots, directories, --from" {
	mkdir -p "$CTX/x/y" "$CTX/a/b/c"
	echo xa > "$CTX/x/a.txt"
	echo ya > "$CTX/x/y/a.txt"
	echo yb > "$CTX/x/y/b.txt"
	echo c > "$CTX/a/b/c/f"
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
COPY ./x/a.txt ./x/y/a.txt /no_parents/
COPY --parents ./x/a.txt ./x/y/a.txt /parents/
COPY --parents ./x/./y/*.txt /pivot/
COPY --parents a/b /dirs/
COPY --parents /a/./b/c /dirpivot/
COPY --parents --from=bb:1 /etc/pass* /bin/./ca* /frm/
EOF2
	run -0 kiln build -q -t par:1 "$CTX"
	run -0 kiln run --rm par:1 sh -c 'cd / && find no_parents parents pivot dirs dirpivot frm ! -type d | sort; cat /pivot/y/b.txt'
	[ "$output" = "dirpivot/b/c/f
dirs/a/b/c/f
frm/cat
frm/etc/passwd
no_parents/a.txt
parents/x/a.txt
parents/x/y/a.txt
pivot/y/a.txt
pivot/y/b.txt
yb" ]
	run -0 kiln run --rm par:1 cat /no_parents/a.txt
	[ "$output" = ya ]
}

# ---- --link ----

@test "build COPY --link: destination made fresh (a lower symlink is not followed), layer has only the copy" {
	echo linked > "$CTX/f.txt"
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN mkdir -p /opt/app /opt/other && ln -s /opt/app /app && ln -s /opt/other /other
COPY --link f.txt /app/
COPY f.txt /other/
EOF2
	run -0 kiln build -q --compression none -t lk:1 "$CTX"
	run -0 kiln run --rm lk:1 sh -c 'test -d /app -a ! -L /app && cat /app/f.txt; ls -A /opt/app; cat /opt/other/f.txt; test -L /other && echo other-still-a-link'
	[ "$output" = "linked
linked
other-still-a-link" ]
	# the --link layer (second to last) holds only what was copied
	id=$(kiln inspect --format '{{json .RootFS.Layers}}' lk:1 | tr -d '[]"' | tr , '\n' | tail -2 | head -1)
	run -0 tar -tf "$KILN_ROOT/oci/blobs/sha256/${id#sha256:}"
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "app/ app/f.txt " ]
	# a plain COPY's layer has the parent it wrote through
	run -0 top_layer_files lk:1
	[ "$(echo "$output" | tr '\n' ' ')" = "opt/ opt/other/ opt/other/f.txt " ]
}

@test "build COPY --link: the step stays cached when earlier layers change; later steps rerun" {
	echo linked > "$CTX/f.txt"
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ARG V=1
RUN echo $V > /v
WORKDIR /w
COPY --link --chown=7:8 f.txt ./
RUN cat /v /w/f.txt > /out
EOF2
	run -0 kiln build -q --compression none -t lc:1 "$CTX"
	l1=$(kiln inspect --format '{{json .RootFS.Layers}}' lc:1 | tr -d '[]"' | tr , '\n' | tail -2 | head -1)
	run -0 kiln build --compression none --build-arg V=2 -t lc:2 "$CTX"
	[[ "$output" != *'RUN echo $V > /v CACHED'* ]]
	[[ "$output" == *'COPY --link --chown=7:8 f.txt ./ CACHED'* ]]
	[[ "$output" != *'RUN cat /v /w/f.txt > /out CACHED'* ]]
	l2=$(kiln inspect --format '{{json .RootFS.Layers}}' lc:2 | tr -d '[]"' | tr , '\n' | tail -2 | head -1)
	[ "$l1" = "$l2" ]
	run -0 kiln run --rm lc:2 sh -c 'cat /out; stat -c %u:%g /w/f.txt'
	[ "$output" = "2
linked
7:8" ]
	# another base: the linked layer is still the cached one
	printf 'FROM scratch\nCOPY --from=bb:1 /bin/busybox /bin/\nWORKDIR /w\nCOPY --link --chown=7:8 f.txt ./\n' > "$CTX/Dockerfile"
	run -0 kiln build --compression none -t lc:3 "$CTX"
	[[ "$output" == *'COPY --link --chown=7:8 f.txt ./ CACHED'* ]]
	[ "$(kiln inspect --format '{{json .RootFS.Layers}}' lc:3 | tr -d '[]"' | tr , '\n' | tail -1)" = "$l1" ]
	# a changed source is not
	echo other > "$CTX/f.txt"
	run -0 kiln build --compression none -t lc:4 "$CTX"
	[[ "$output" != *'f.txt ./ CACHED'* ]]
}

@test "build COPY --link --chown=NAME reads the stage's /etc/passwd" {
	echo x > "$CTX/f.txt"
	printf 'FROM bb:1\nRUN echo "app:x:1234:4321::/:/bin/sh" >> /etc/passwd\nCOPY --link --chown=app f.txt /f\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -t ln:1 "$CTX"
	run -0 kiln run --rm ln:1 stat -c %u:%g /f
	[ "$output" = 1234:4321 ]
}

# ---- --from ----

@test "build COPY --from=IMAGE (a stored image by name) and wildcards in --from sources" {
	mkdir -p "$CTX"
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1 AS src
RUN mkdir -p /d/sub && echo 1 > /d/one.conf && echo 2 > /d/two.conf && echo 3 > /d/sub/three.conf && echo n > /d/note.txt
FROM scratch
COPY --from=bb:1 /bin/busybox /bin/
COPY --from=src /d/*.conf /conf/
COPY --from=src /d/s?b /sub/
COPY --from=src /d/*/*.conf /deep/
COPY --from=src /d/[on]* /class/
COPY --from=src /d/*.none /none/
EOF2
	run -0 kiln build -q -t fw:1 "$CTX"
	run -0 kiln run --rm --entrypoint /bin/busybox fw:1 find /conf /sub /deep /class -type f
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "/class/note.txt /class/one.conf /conf/one.conf /conf/two.conf /deep/three.conf /sub/three.conf " ]
	printf 'FROM scratch\nCOPY --from=bb:1 /nope/*.x /x/\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'Dockerfile:2: COPY --from=bb:1 /nope/*.x /x/: /nope/*.x: '* ]]
	printf 'FROM scratch\nCOPY --from=no-such-image:1 /x /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'Dockerfile:2: COPY --from=no-such-image:1 /x /x: '* ]]
}

# ---- ADD from URLs ----

@test "build ADD URL: file name from the URL, 0600 root, Last-Modified, redirects, --chmod/--chown, not extracted" {
	start_http
	echo "remote content" > "$BATS_TEST_TMPDIR/www/file.txt"
	touch -d '2020-01-02 03:04:05 UTC' "$BATS_TEST_TMPDIR/www/file.txt"
	tar -C "$CTX" -cf "$BATS_TEST_TMPDIR/www/a.tar" .
	mkdir -p "$BATS_TEST_TMPDIR/www/dir"
	echo q > "$BATS_TEST_TMPDIR/www/dir/q%20x"
	cat > "$CTX/Dockerfile" <<EOF2
FROM bb:1
ADD $URL/file.txt /dl/
ADD $URL/redirect/file.txt /named
ADD --chmod=644 --chown=5:6 $URL/file.txt?x=1#frag /x/y/
ADD $URL/a.tar /t/
ADD $URL/dir/q%2520x /q/
EOF2
	run -0 kiln build -q -t url:1 "$CTX"
	run -0 kiln run --rm url:1 sh -c 'stat -c "%n %a %u:%g %Y" /dl/file.txt /named /x/y/file.txt /t/a.tar "/q/q%20x"; cat /named'
	[ "$output" = "/dl/file.txt 600 0:0 1577934245
/named 600 0:0 1577934245
/x/y/file.txt 644 5:6 1577934245
/t/a.tar 600 0:0 $(stat -c %Y "$BATS_TEST_TMPDIR/www/a.tar")
/q/q%20x 600 0:0 $(stat -c %Y "$BATS_TEST_TMPDIR/www/dir/q%20x")
remote content" ]
	grep -qx /redirect/file.txt "$BATS_TEST_TMPDIR/requests.log"
	run -0 kiln history --no-trunc url:1
	[[ "$output" == *"ADD file:$(sha256sum "$BATS_TEST_TMPDIR/www/file.txt" | cut -c1-64) in /named"* ]]
}

@test "build ADD URL: an HTTP error or no file name is one line and stores nothing" {
	start_http
	kiln run --rm bb:1 true
	before=$(store_state)
	printf 'FROM bb:1\nADD %s/missing /x\n' "$URL" > "$CTX/Dockerfile"
	run -1 kiln build -t bad:1 "$CTX"
	[ "${lines[-1]}" = "Error: Dockerfile:2: ADD $URL/missing /x: GET $URL/missing: 404 File not found" ]
	printf 'FROM bb:1\nADD %s/gone /x\n' "$URL" > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[ "$output" = "Error: Dockerfile:2: ADD $URL/gone /x: GET $URL/gone: 410 Gone" ]
	printf 'FROM bb:1\nADD %s/ /x/\n' "$URL" > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[[ "$output" == *"Dockerfile:2: ADD $URL/ /x/: $URL/: cannot determine a file name from the URL" ]]
	printf 'FROM bb:1\nADD http://127.0.0.1:1/x /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[[ "$output" == 'Error: Dockerfile:2: ADD http://127.0.0.1:1/x /x: GET http://127.0.0.1:1/x: '*"onnect"* ]]
	printf 'FROM bb:1\nCOPY %s/x /x\n' "$URL" > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[[ "$output" == *": source can't be a URL for COPY" ]]
	printf 'FROM bb:1\nADD https://example.com/x/y.git /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[[ "$output" == *": ADD from git repositories is not supported" ]]
	[ "$(store_state)" = "$before" ]
}

@test "build ADD --checksum: verified; a mismatch names both digests; only for URLs" {
	start_http
	echo "remote content" > "$BATS_TEST_TMPDIR/www/file.txt"
	sum=$(sha256sum "$BATS_TEST_TMPDIR/www/file.txt" | cut -c1-64)
	printf 'FROM bb:1\nADD --checksum=sha256:%s %s/file.txt /f\n' "$sum" "$URL" > "$CTX/Dockerfile"
	run -0 kiln build -q -t ck:1 "$CTX"
	run -0 kiln run --rm ck:1 cat /f
	[ "$output" = "remote content" ]
	bad=0000000000000000000000000000000000000000000000000000000000000000
	printf 'FROM bb:1\nADD --checksum=sha256:%s %s/file.txt /f\n' "$bad" "$URL" > "$CTX/Dockerfile"
	run -1 kiln build -q -t ck:2 "$CTX"
	[ "$output" = "Error: Dockerfile:2: ADD --checksum=sha256:$bad $URL/file.txt /f: checksum mismatch: expected sha256:$bad, got sha256:$sum" ]
	run ! kiln inspect ck:2
	printf 'FROM bb:1\nADD --checksum=sha256:%s Dockerfile /f\n' "$sum" > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *": checksum can't be specified for non-HTTP(S) sources" ]]
	printf 'FROM bb:1\nADD --checksum=md5:00 %s/file.txt /f\n' "$URL" > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *": --checksum=md5:00: "* ]]
}

@test "build ADD URL cache: keyed by the downloaded content; --checksum keys without downloading" {
	start_http
	echo one > "$BATS_TEST_TMPDIR/www/f"
	printf 'FROM bb:1\nADD %s/f /f\nRUN cat /f > /g\n' "$URL" > "$CTX/Dockerfile"
	run -0 kiln build -q -t uc:1 "$CTX"
	run -0 kiln build -t uc:2 "$CTX"
	[[ "$output" == *"ADD $URL/f /f CACHED"* ]]
	[[ "$output" == *'RUN cat /f > /g CACHED'* ]]
	echo two > "$BATS_TEST_TMPDIR/www/f"
	run -0 kiln build -t uc:3 "$CTX"
	[[ "$output" != *"ADD $URL/f /f CACHED"* ]]
	run -0 kiln run --rm uc:3 cat /g
	[ "$output" = two ]
	# downloaded once a build (the key and the step share the file)
	[ "$(grep -cx /f "$BATS_TEST_TMPDIR/requests.log")" -eq 3 ]
	sum=$(sha256sum "$BATS_TEST_TMPDIR/www/f" | cut -c1-64)
	printf 'FROM bb:1\nADD --checksum=sha256:%s %s/f /f\n' "$sum" "$URL" > "$CTX/Dockerfile"
	run -0 kiln build -q -t uc:4 "$CTX"
	[ "$(grep -cx /f "$BATS_TEST_TMPDIR/requests.log")" -eq 4 ]
	run -0 kiln build -t uc:5 "$CTX"
	[[ "$output" == *"/f /f CACHED"* ]]
	[ "$(grep -cx /f "$BATS_TEST_TMPDIR/requests.log")" -eq 4 ]
}
