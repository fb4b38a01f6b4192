/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: heredocs. RUN's argv follows BuildKit's dispatchRun (a lone
 * heredoc is the script itself; with "#!" it is a file run directly, else
 * SHELL + body; anything else is given back to the shell with its bodies
 * appended). COPY/ADD inline sources are files of mode 0644 written in the
 * step's temporary dir and copied like context files. See
 * docs/internals/build.md ("Executor").
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "heredoc.h"
#include "kiln/fs.h"

/* "<<EOF", "<<-EOF", "3<< 'EOF'": the whole command is one heredoc word */
static bool heredoc_only(const char *cmd)
{
        const char *p = cmd;
        while (*p >= '0' && *p <= '9')
                p++;
        if (p[0] != '<' || p[1] != '<')
                return false;
        p += 2;
        if (*p == '-')
                p++;
        while (*p == ' ' || *p == '\t')
                p++;
        if (!*p)
                return false;
        for (; *p; p++)
                if (*p == '<' || *p == ' ' || *p == '\t' || *p == '\n')
                        return false;
        return true;
}

static bool bad_name(const char *n)
{
        return !*n || !strcmp(n, ".") || !strcmp(n, "..") || strchr(n, '/');
}

void build_mount_req_clear(struct kiln_mount_req *m)
{
        free(m->type);
        free(m->source);
        free(m->destination);
        kiln_strv_free(m->options);
        *m = (struct kiln_mount_req){ 0 };
}

static int write_file(const char *path, const char *data, mode_t mode, struct kiln_error *err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return kiln_err(err, -errno, "%s: %s", path, strerror(errno));
        int r = kiln_fs_write_all(fd, data, strlen(data));
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r < 0)
                return kiln_err(err, r, "%s: %s", path, kiln_strerror(r));
        return 0;
}

int build_run_heredoc_argv(char *const *shell, const struct kiln_df_instruction *in, const char *dir,
                           char ***ret_argv, struct kiln_mount_req *ret_mount, struct kiln_error *err)
{
        *ret_mount = (struct kiln_mount_req){ 0 };
        const char *cmd = in->cmdline && in->cmdline[0] ? in->cmdline[0] : "";
        if (!in->prepend_shell || !in->n_heredocs)
                return kiln_err(err, -EINVAL, "internal: not a heredoc RUN");
        char **argv = NULL;
        if (heredoc_only(cmd)) {
                const struct kiln_df_heredoc *h = &in->heredocs[0];
                if (kiln_startswith(h->content, "#!")) {
                        if (bad_name(h->name))
                                return kiln_err(err, -EINVAL, "heredoc name %s: not a file name", h->name);
                        _cleanup_free_ char *pipes = kiln_xasprintf("%s/pipes", dir);
                        _cleanup_free_ char *file = kiln_xasprintf("%s/%s", pipes, h->name);
                        if (mkdir(pipes, 0755) < 0 && errno != EEXIST)
                                return kiln_err(err, -errno, "%s: %s", pipes, strerror(errno));
                        int r = write_file(file, h->content, 0755, err);
                        if (r < 0)
                                return r;
                        ret_mount->type = kiln_xstrdup("bind");
                        ret_mount->source = TAKE_PTR(pipes);
                        ret_mount->destination = kiln_xstrdup("/dev/pipes");
                        ret_mount->readonly = true;
                        kiln_strv_push_take(&argv, kiln_xasprintf("/dev/pipes/%s", h->name));
                        *ret_argv = argv;
                        return 0;
                }
                for (size_t k = 0; shell && shell[k]; k++)
                        kiln_strv_push(&argv, shell[k]);
                kiln_strv_push(&argv, h->content);
                *ret_argv = argv;
                return 0;
        }
        struct kiln_buf full = KILN_BUF_INIT;
        kiln_buf_puts(&full, cmd);
        for (size_t k = 0; k < in->n_heredocs; k++)
                kiln_buf_printf(&full, "\n%s%s", in->heredocs[k].content, in->heredocs[k].name);
        for (size_t k = 0; shell && shell[k]; k++)
                kiln_strv_push(&argv, shell[k]);
        kiln_strv_push_take(&argv, kiln_buf_steal(&full));
        *ret_argv = argv;
        return 0;
}

int build_inline_source(const struct kiln_df_heredoc *h, const char *dir, int *ret_fd, struct kiln_error *err)
{
        if (bad_name(h->name))
                return kiln_err(err, -EINVAL, "heredoc name %s: not a file name", h->name);
        _cleanup_free_ char *file = kiln_xasprintf("%s/%s", dir, h->name);
        unlink(file); /* the same name twice: the last body wins */
        int r = write_file(file, h->content, 0644, err);
        if (r < 0)
                return r;
        int fd = open(file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return kiln_err(err, -errno, "%s: %s", file, strerror(errno));
        *ret_fd = fd;
        return 0;
}
