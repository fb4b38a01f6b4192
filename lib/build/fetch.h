/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: ADD's sources from http(s) URLs (lib/build/fetch.c), through
 * libcurl, loaded when the first URL is fetched. See docs/internals/build.md
 * ("ADD from URLs").
 */
#pragma once

#include "kiln/base.h"
#include "kiln/digest.h"

/* An ADD source that is downloaded: "http://" or "https://" (BuildKit's
 * rule; any other "scheme://" is a context path). */
bool build_is_http_url(const char *src);
/* An ADD source naming a git repository: "git://", "git@host:", or an
 * http(s) URL whose path ends in ".git" (with or without a "#ref"). */
bool build_is_git_url(const char *src);
/* The file name ADD gives a download: the last element of the URL's path,
 * percent-decoded (Go's path.Base(url.Path)); NULL when there is none
 * ("http://h", "http://h/", a name "." or "..", or one holding a NUL). */
char *build_url_basename(const char *url);

struct build_download {
        char *url;
        char *path;                /* the file, 0600, in the build's tmp */
        struct kiln_digest digest; /* of the content: sha256, or the --checksum's algorithm */
        bool has_mtime;            /* Last-Modified was sent */
        int64_t mtime;
};

/* The downloads of one build: each URL (and digest algorithm) fetched once. */
struct build_downloads;
void build_downloads_free(struct build_downloads *l);

/*
 * Download url (redirects followed, http and https only, proxies from the
 * environment as libcurl reads them) into a new file in dir, unless this
 * build fetched it already. checksum (may be NULL): "sha256:HEX" or
 * "sha512:HEX" the content must have (else an error naming both digests,
 * and the file is removed). *ret is owned by *l. An HTTP error status is
 * one line: "GET URL: 404 Not Found".
 */
int build_download(struct build_downloads **l, const char *url, const char *dir, const char *checksum,
                   const struct build_download **ret, struct kiln_error *err);
