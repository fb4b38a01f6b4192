/* SPDX-License-Identifier: Apache-2.0 */
/* kiln_layer_convert: any tar (any libarchive filter) -> normalized layer. */
#include <inttypes.h>
#include <string.h>
#include "kiln/fs.h"
#include "layer-internal.h"

KILN_DEFINE_CLEANUP(struct archive *, archive_read_free)

int kiln_layer_convert(int in_fd, int out_fd, const struct kiln_layer_create_opts *opts,
                       struct kiln_layer_info *ret, struct kiln_error *err)
{
        struct kiln_layer_create_opts def = KILN_LAYER_CREATE_OPTS_INIT;
        if (!opts)
                opts = &def;
        _cleanup_(archive_read_freep) struct archive *in = archive_read_new();
        if (!in)
                return kiln_err(err, -ENOMEM, "layer: cannot allocate archive reader");
        archive_read_support_filter_all(in);
        archive_read_support_format_tar(in);
        archive_read_support_format_gnutar(in);
        if (archive_read_open_fd(in, in_fd, LAYER_IO_CHUNK) != ARCHIVE_OK)
                return layer_archive_err(in, err, NULL);

        _cleanup_(layer_sink_freep) struct layer_sink *sink = NULL;
        int r = layer_sink_new(out_fd, opts, &sink, err);
        if (r < 0)
                return r;
        _cleanup_(archive_write_freep) struct archive *out = layer_sink_archive(sink, err);
        if (!out)
                return -EIO;
        _cleanup_free_ char *buf = kiln_xmalloc(LAYER_IO_CHUNK);
        uint64_t n = 0;
        for (;;) {
                struct archive_entry *e;
                int ar = archive_read_next_header(in, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN)
                        return layer_archive_err(in, err, NULL);
                const char *name = archive_entry_pathname(e);
                if (!name)
                        return kiln_err(err, -KILN_EFORMAT, "layer: entry %" PRIu64 " has no name", n);
                size_t nlen = strlen(name);
                if (nlen > 65536)
                        return kiln_err(err, -KILN_ETOOBIG, "layer: entry name over 64 KiB");
                _cleanup_free_ char *norm = kiln_xmalloc(nlen + 1);
                if (kiln_fs_path_normalize(name, norm) < 0)
                        return kiln_err(err, -KILN_EUNSAFE, "layer: entry '%s': path leaves the root", name);
                if (!*norm)
                        continue; /* the root itself */
                const char *hl = archive_entry_hardlink(e);
                _cleanup_free_ char *hnorm = NULL;
                if (hl) {
                        hnorm = kiln_xmalloc(strlen(hl) + 1);
                        if (kiln_fs_path_normalize(hl, hnorm) < 0 || !*hnorm)
                                return kiln_err(err, -KILN_EUNSAFE,
                                                "layer: entry '%s': hardlink target '%s' leaves the root",
                                                name, hl);
                }
                int64_t size = archive_entry_size(e);
                bool has_data = archive_entry_filetype(e) == AE_IFREG && !hl;
                struct archive_entry *o = archive_entry_new();
                archive_entry_set_pathname(o, norm);
                archive_entry_set_mode(o, archive_entry_mode(e));
                archive_entry_set_uid(o, archive_entry_uid(e));
                archive_entry_set_gid(o, archive_entry_gid(e));
                int64_t mt = archive_entry_mtime(e);
                if (opts->source_date_epoch >= 0 && mt > opts->source_date_epoch)
                        mt = opts->source_date_epoch;
                archive_entry_set_mtime(o, (time_t)mt, 0);
                if (hl) {
                        archive_entry_set_hardlink(o, hnorm);
                        archive_entry_set_size(o, 0);
                } else if (archive_entry_symlink(e)) {
                        archive_entry_set_symlink(o, archive_entry_symlink(e));
                }
                if (has_data)
                        archive_entry_set_size(o, size);
                archive_entry_set_rdevmajor(o, archive_entry_rdevmajor(e));
                archive_entry_set_rdevminor(o, archive_entry_rdevminor(e));
                const char *xn;
                const void *xv;
                size_t xs;
                archive_entry_xattr_reset(e);
                while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
                        archive_entry_xattr_add_entry(o, xn, xv, xs);
                ar = archive_write_header(out, o);
                archive_entry_free(o);
                if (ar < ARCHIVE_WARN)
                        return kiln_err(err, layer_sink_error(sink) ? layer_sink_error(sink) : -EIO,
                                        "layer: entry '%s': %s", norm, archive_error_string(out));
                n++;
                if (!has_data)
                        continue;
                /* archive_read_data fills sparse holes with zeros */
                int64_t left = size;
                while (left > 0) {
                        la_ssize_t got = archive_read_data(in, buf, (size_t)KILN_MIN(left, (int64_t)LAYER_IO_CHUNK));
                        if (got < 0)
                                return layer_archive_err(in, err, norm);
                        if (got == 0)
                                return kiln_err(err, -KILN_EFORMAT, "layer: truncated tar archive: %s", norm);
                        if (archive_write_data(out, buf, (size_t)got) < 0)
                                return kiln_err(err, layer_sink_error(sink) ? layer_sink_error(sink) : -EIO,
                                                "layer: entry '%s': %s", norm, archive_error_string(out));
                        left -= got;
                }
        }
        return layer_sink_finish(sink, out, n, ret, err);
}
