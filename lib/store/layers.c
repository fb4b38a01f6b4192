/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unpacked layers: ROOT/layers/<diffID hex>/, one per diffID, shared by
 * every image that uses it and ready to be an overlayfs lowerdir
 * (whiteouts kept as overlay whiteouts). A layer is unpacked into
 * ROOT/tmp, synced, renamed into place, then recorded; a directory without
 * its row is a leftover that gc and fsck remove.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "kiln/layer.h"
#include "store-internal.h"

static bool layer_recorded(struct kiln_store *s, const struct kiln_digest *diff_id)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM unpacked WHERE diff_id = ?", -1, &st, NULL) !=
            SQLITE_OK)
                return false;
        sqlite3_bind_text(st, 1, diff_id->str, -1, SQLITE_STATIC);
        bool found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (!found)
                return false;
        struct stat stt;
        return fstatat(s->layers_fd, kiln_digest_hex(diff_id), &stt, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(stt.st_mode);
}

int kiln_store_layer_unpack(struct kiln_store *s, const struct kiln_descriptor *layer,
                            const struct kiln_digest *diff_id, char **ret_path,
                            struct kiln_error *err)
{
        const char *hex = kiln_digest_hex(diff_id);
        _cleanup_free_ char *path = kiln_xasprintf("%s/layers/%s", s->root, hex);
        if (layer_recorded(s, diff_id)) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        int r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        /* one unpacker per layer at a time: others wait, then find it done */
        _cleanup_free_ char *lockname = kiln_xasprintf("unpack-%s.lock", hex);
        _cleanup_close_ int lfd = openat(s->tmp_fd, lockname, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0)
                return kiln_err(err, -errno, "layer %s: lock: %s", diff_id->str, strerror(errno));
        while (flock(lfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return kiln_err(err, -errno, "layer %s: lock: %s", diff_id->str,
                                        strerror(errno));
        if (layer_recorded(s, diff_id)) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }

        _cleanup_close_ int bfd = -1;
        r = kiln_store_blob_open(s, &layer->digest, &bfd, NULL, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *tmpname = kiln_xasprintf("unpack-%s-%d", hex, (int)getpid());
        kiln_fs_rm_rf_at(s->tmp_fd, tmpname);
        if (mkdirat(s->tmp_fd, tmpname, 0755) < 0)
                return kiln_err(err, -errno, "layer %s: %s", diff_id->str, strerror(errno));
        _cleanup_close_ int dfd = openat(s->tmp_fd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                goto fail;
        }
        struct kiln_layer_apply_opts opts = {
                .preserve_owner = geteuid() == 0,
                .overlay_whiteouts = true,
        };
        struct kiln_layer_apply_info info;
        r = kiln_layer_apply(bfd, dfd, &opts, &info, err);
        if (r < 0) {
                kiln_err_prefix(err, r, "layer %s: ", layer->digest.str);
                goto fail;
        }
        if (!kiln_digest_equal(&info.digest, &layer->digest)) {
                r = kiln_err(err, -KILN_EDIGEST, "layer %s: digest mismatch (content is %s)",
                             layer->digest.str, info.digest.str);
                goto fail;
        }
        if (!kiln_digest_equal(&info.diff_id, diff_id)) {
                r = kiln_err(err, -KILN_EDIGEST,
                             "layer %s: diff_id mismatch: config says %s, content is %s",
                             layer->digest.str, diff_id->str, info.diff_id.str);
                goto fail;
        }
        if (syncfs(dfd) < 0) {
                r = kiln_err(err, -errno, "layer %s: sync: %s", diff_id->str, strerror(errno));
                goto fail;
        }
        kiln_fs_rm_rf_at(s->layers_fd, hex); /* a leftover without its row */
        if (renameat(s->tmp_fd, tmpname, s->layers_fd, hex) < 0) {
                r = kiln_err(err, -errno, "layer %s: %s", diff_id->str, strerror(errno));
                goto fail;
        }
        kiln_fs_fsync_dir_at(s->layers_fd, ".");
        r = store_begin(s, err);
        if (r >= 0) {
                sqlite3_stmt *st;
                r = store_prepare(s,
                                  "INSERT OR REPLACE INTO unpacked(diff_id, size, unpacked) "
                                  "VALUES (?,?,?)",
                                  &st, err);
                if (r >= 0) {
                        sqlite3_bind_text(st, 1, diff_id->str, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(st, 2, info.uncompressed_size);
                        sqlite3_bind_int64(st, 3, store_now());
                        if (sqlite3_step(st) != SQLITE_DONE)
                                r = store_sql_err(s, err, "record unpacked layer");
                        sqlite3_finalize(st);
                }
                if (r >= 0)
                        r = store_commit(s, err);
                else
                        store_rollback(s);
        }
        if (r < 0)
                return r;
        unlinkat(s->tmp_fd, lockname, 0);
        *ret_path = TAKE_PTR(path);
        return 0;
fail:
        kiln_fs_rm_rf_at(s->tmp_fd, tmpname);
        return r;
}
