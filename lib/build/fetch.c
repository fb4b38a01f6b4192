/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: ADD from http(s) URLs. The transfer is libcurl's (DESIGN.md's
 * HTTP client), loaded with dlopen when a build first downloads something:
 * linking libcurl would make every kiln start pay for its dependency chain
 * (nghttp2, ssh, ldap, kerberos, ...), as for libarchive (lib/layer/
 * archive-dl.c). The content is hashed while it is written; the file gets
 * mode 0600 and, when the server sent Last-Modified, that mtime (Docker's
 * rules). See docs/internals/build.md ("ADD from URLs").
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fetch.h"
#include "kiln/fs.h"

#define CURL_SONAME "libcurl.so.4"
/* a download larger than this is refused (input controls the size) */
#define MAX_DOWNLOAD ((curl_off_t)64 << 30)

bool build_is_http_url(const char *src)
{
        return kiln_startswith(src, "http://") || kiln_startswith(src, "https://");
}

bool build_is_git_url(const char *src)
{
        if (kiln_startswith(src, "git://") || kiln_startswith(src, "git@"))
                return true;
        if (!build_is_http_url(src))
                return false;
        size_t n = strcspn(src, "?#");
        return n >= 4 && !strncmp(src + n - 4, ".git", 4);
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *build_url_basename(const char *url)
{
        const char *p = strstr(url, "://");
        if (!p)
                return NULL;
        p += 3;
        p += strcspn(p, "/?#"); /* the authority */
        size_t n = strcspn(p, "?#");
        /* percent-decode the path */
        _cleanup_free_ char *path = kiln_xmalloc(n + 1);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '%' && i + 2 < n + 1 && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
                        int c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
                        if (c == 0)
                                return NULL;
                        path[k++] = (char)c;
                        i += 2;
                } else {
                        path[k++] = p[i];
                }
        }
        path[k] = 0;
        /* path.Base: trailing slashes dropped, then the last element */
        while (k > 0 && path[k - 1] == '/')
                path[--k] = 0;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
                return NULL;
        return kiln_xstrdup(base);
}

/* ---- libcurl, loaded on first use ---- */

static struct {
        CURLcode (*global_init)(long);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
        CURLcode (*easy_perform)(CURL *);
        CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
        void (*easy_cleanup)(CURL *);
        const char *(*easy_strerror)(CURLcode);
        bool ok;
        char error[256];
} cl;
static pthread_once_t cl_once = PTHREAD_ONCE_INIT;

static void cl_load(void)
{
        void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                const char *e = dlerror();
                snprintf(cl.error, sizeof(cl.error), "%s", e ? e : "cannot load " CURL_SONAME);
                return;
        }
#define S(field, name)                                                                          \
        do {                                                                                    \
                *(void **)&cl.field = dlsym(h, name);                                           \
                if (!cl.field) {                                                                \
                        snprintf(cl.error, sizeof(cl.error), "%s: no symbol %s", CURL_SONAME, name); \
                        return;                                                                 \
                }                                                                               \
        } while (0)
        S(global_init, "curl_global_init");
        S(easy_init, "curl_easy_init");
        S(easy_setopt, "curl_easy_setopt");
        S(easy_perform, "curl_easy_perform");
        S(easy_getinfo, "curl_easy_getinfo");
        S(easy_cleanup, "curl_easy_cleanup");
        S(easy_strerror, "curl_easy_strerror");
#undef S
        if (cl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(cl.error, sizeof(cl.error), "curl_global_init failed");
                return;
        }
        cl.ok = true;
}

/* ---- one transfer ---- */

struct xfer {
        int fd;
        struct kiln_hasher *h;
        curl_off_t bytes;
        int werr;         /* a failed write: -errno */
        char status[128]; /* the last status line's reason phrase */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
        struct xfer *x = ud;
        size_t n = size * nmemb;
        x->bytes += (curl_off_t)n;
        if (x->bytes > MAX_DOWNLOAD) {
                x->werr = -KILN_ETOOBIG;
                return 0;
        }
        int r = kiln_fs_write_all(x->fd, data, n);
        if (r < 0) {
                x->werr = r;
                return 0;
        }
        kiln_hasher_update(x->h, data, n);
        return n;
}

/* "HTTP/1.1 404 Not Found\r\n": keep "404 Not Found"; a new response
 * (after a redirect) starts with a new status line */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
        struct xfer *x = ud;
        size_t n = size * nmemb;
        if (n > 5 && !strncmp(data, "HTTP/", 5)) {
                const char *sp = memchr(data, ' ', n);
                if (sp) {
                        size_t len = n - (size_t)(sp + 1 - data);
                        while (len > 0 && (sp[len] == '\r' || sp[len] == '\n'))
                                len--;
                        snprintf(x->status, sizeof(x->status), "%.*s", (int)KILN_MIN(len, sizeof(x->status) - 1),
                                 sp + 1);
                }
        }
        return n;
}

struct build_downloads {
        struct build_download *v;
        size_t n;
        unsigned seq;
};

void build_downloads_free(struct build_downloads *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].url);
                free(l->v[i].path);
        }
        free(l->v);
        free(l);
}

static int fetch(const char *url, const char *path, enum kiln_digest_alg alg, struct build_download *d,
                 struct kiln_error *err)
{
        pthread_once(&cl_once, cl_load);
        if (!cl.ok)
                return kiln_err(err, -KILN_EUNSUPPORTED, "cannot download %s: %s", url, cl.error);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return kiln_err(err, -errno, "%s: %s", path, strerror(errno));
        _cleanup_(kiln_hasher_freep) struct kiln_hasher *h = kiln_hasher_new(alg);
        struct xfer x = { .fd = fd, .h = h };
        CURL *c = cl.easy_init();
        if (!c)
                return kiln_err(err, -ENOMEM, "curl_easy_init failed");
        char ebuf[CURL_ERROR_SIZE] = "";
        cl.easy_setopt(c, CURLOPT_URL, url);
        cl.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
        cl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        cl.easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        cl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        cl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        cl.easy_setopt(c, CURLOPT_FILETIME, 1L);
        cl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        /* a transfer stalled (under 1 byte/s) for a minute is given up */
        cl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        cl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        cl.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, MAX_DOWNLOAD);
        cl.easy_setopt(c, CURLOPT_USERAGENT, "kiln");
        cl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        cl.easy_setopt(c, CURLOPT_WRITEDATA, &x);
        cl.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        cl.easy_setopt(c, CURLOPT_HEADERDATA, &x);
        CURLcode cr = cl.easy_perform(c);
        long code = 0;
        curl_off_t ft = -1;
        cl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        cl.easy_getinfo(c, CURLINFO_FILETIME_T, &ft);
        cl.easy_cleanup(c);
        int r = 0;
        if (x.werr == -KILN_ETOOBIG || cr == CURLE_FILESIZE_EXCEEDED)
                r = kiln_err(err, -KILN_ETOOBIG, "GET %s: larger than %lld bytes", url, (long long)MAX_DOWNLOAD);
        else if (x.werr)
                r = kiln_err(err, x.werr, "%s: write: %s", path, kiln_strerror(x.werr));
        else if (cr != CURLE_OK)
                r = kiln_err(err, -EIO, "GET %s: %s", url, ebuf[0] ? ebuf : cl.easy_strerror(cr));
        else if (code < 200 || code > 299)
                r = kiln_err(err, -EIO, "GET %s: %s", url, x.status[0] ? x.status : "unexpected response");
        if (r >= 0 && ft >= 0) {
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)ft } };
                if (futimens(fd, ts) < 0)
                        r = kiln_err(err, -errno, "%s: set mtime: %s", path, strerror(errno));
        }
        if (r < 0) {
                unlink(path);
                return r;
        }
        kiln_hasher_final(h, &d->digest);
        d->has_mtime = ft >= 0;
        d->mtime = ft;
        return 0;
}

int build_download(struct build_downloads **l, const char *url, const char *dir, const char *checksum,
                   const struct build_download **ret, struct kiln_error *err)
{
        struct kiln_digest want = { 0 };
        enum kiln_digest_alg alg = KILN_DIGEST_SHA256;
        if (checksum) {
                struct kiln_error e = { 0 };
                if (kiln_digest_parse(checksum, &want, &e) < 0)
                        return kiln_err(err, -EINVAL, "--checksum=%s: %s", checksum, e.msg);
                alg = want.alg;
        }
        if (!*l)
                *l = kiln_xcalloc(1, sizeof(**l));
        struct build_download *d = NULL;
        for (size_t i = 0; i < (*l)->n && !d; i++)
                if (!strcmp((*l)->v[i].url, url) && (*l)->v[i].digest.alg == alg)
                        d = &(*l)->v[i];
        if (!d) {
                struct build_download nd = { 0 };
                _cleanup_free_ char *path = kiln_xasprintf("%s/download-%u", dir, (*l)->seq++);
                int r = fetch(url, path, alg, &nd, err);
                if (r < 0)
                        return r;
                nd.url = kiln_xstrdup(url);
                nd.path = TAKE_PTR(path);
                (*l)->v = kiln_xrealloc((*l)->v, ((*l)->n + 1) * sizeof(*(*l)->v));
                d = &(*l)->v[(*l)->n++];
                *d = nd;
        }
        if (checksum && !kiln_digest_equal(&want, &d->digest))
                return kiln_err(err, -KILN_EDIGEST, "checksum mismatch: expected %s, got %s", want.str, d->digest.str);
        *ret = d;
        return 0;
}
