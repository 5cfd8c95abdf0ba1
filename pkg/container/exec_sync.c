#define _GNU_SOURCE
#include "container/exec_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "container/exec_start.h"
#include "util/cleanup.h"
#include "util/deadline.h"
#include "util/mem.h"

struct stream {
    int fd;
    char **buf;
    size_t *len;
};

/* Appends what is readable; keeps draining past the cap so the command never
 * blocks on a full pipe. Returns false at EOF. */
static bool drain(struct stream *s)
{
    char chunk[65536];
    ssize_t n = read(s->fd, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    size_t keep = (size_t)n;
    if (*s->len + keep > CRISP_EXEC_OUTPUT_MAX)
        keep = CRISP_EXEC_OUTPUT_MAX - *s->len;
    if (keep) {
        *s->buf = crisp_xrealloc(*s->buf, *s->len + keep + 1);
        memcpy(*s->buf + *s->len, chunk, keep);
        *s->len += keep;
        (*s->buf)[*s->len] = '\0';
    }
    return true;
}

/* Collects both streams until EOF on both or the deadline (-1: none). */
static bool collect(struct stream *streams, int64_t deadline)
{
    bool open[2] = {true, true};
    while (open[0] || open[1]) {
        struct pollfd p[2] = {{.fd = open[0] ? streams[0].fd : -1, .events = POLLIN},
                              {.fd = open[1] ? streams[1].fd : -1, .events = POLLIN}};
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - crisp_monotonic_ms();
            if (left <= 0)
                return false;
            wait = (int)left;
        }
        if (poll(p, 2, wait) < 0 && errno != EINTR)
            return false;
        for (int i = 0; i < 2; i++)
            if (open[i] && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                open[i] = drain(&streams[i]);
    }
    return true;
}

static int wait_exit_code(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* An exec that could not start reads like a shell's: 127 not found, 126 else. */
static void exec_failed(struct crisp_exec_output *out, int r, const struct crisp_err *e)
{
    out->exit_code = crisp_exec_failed_code(r);
    out->err = crisp_xasprintf("%s\n", e->msg);
    out->err_len = strlen(out->err);
}

int crisp_ctr_exec_sync(const struct crisp_ctr_env *env, const char *id, char *const *argv,
                        int64_t timeout, struct crisp_exec_output *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int r = 0;
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        r = crisp_syserrf(err, errno, "ExecSync: pipe");
        goto done;
    }
    const struct crisp_exec_stdio stdio = {
        .stdin_fd = -1, .stdout_fd = outp[1], .stderr_fd = errp[1]};
    struct crisp_exec_result res;
    bool not_runnable;
    r = crisp_ctr_exec_start(env, id, "ExecSync", argv, &stdio, &res, &not_runnable, err);
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1; /* the command holds its copies: EOF when it is done */
    if (r < 0) {
        if (not_runnable) { /* the command, not the call */
            exec_failed(out, r, err);
            r = 0;
        }
        goto done;
    }
    struct stream streams[2] = {{outp[0], &out->out, &out->out_len},
                                {errp[0], &out->err, &out->err_len}};
    int64_t deadline = timeout > 0 ? crisp_monotonic_ms() + timeout * 1000 : -1;
    if (!collect(streams, deadline)) {
        kill(res.pid, SIGKILL);
        wait_exit_code(res.pid);
        r = crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                         "ExecSync: command timed out after %llds", (long long)timeout);
        goto done;
    }
    out->exit_code = wait_exit_code(res.pid);
done:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    if (r < 0)
        crisp_exec_output_free(out);
    return r;
}

void crisp_exec_output_free(struct crisp_exec_output *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof(*o));
}
