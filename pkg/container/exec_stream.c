#define _GNU_SOURCE
#include "container/exec_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "container/exec_start.h"
#include "container/stdin_queue.h"
#include "util/mem.h"

struct exec_io {
    struct crisp_stream_io io;
    pid_t pid;                   /* -1 once reaped (or never started) */
    int pidfd;                   /* readable when the process exits */
    int out_fd, err_fd;          /* ours: read ends (out_fd: the pty master with tty) */
    struct crisp_stdin_queue in; /* the pipe's write end, or the pty master */
    bool tty, exited;
    int exit_code;
    char *failure; /* why the command could not run, sent as its output */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static size_t exec_poll_fds(struct crisp_stream_io *io, struct pollfd *p, size_t cap)
{
    struct exec_io *e = (struct exec_io *)io;
    bool queued = crisp_stdin_queue_pending(&e->in);
    int fds[4] = {e->out_fd, e->err_fd, e->exited ? -1 : e->pidfd,
                  queued && !e->tty ? e->in.fd : -1};
    size_t n = 0;
    for (int i = 0; i < 4 && n < cap; i++) {
        short events = i == 3 ? POLLOUT : POLLIN;
        if (i == 0 && e->tty && queued)
            events |= POLLOUT; /* the pty master takes stdin too */
        if (fds[i] >= 0)
            p[n++] = (struct pollfd){.fd = fds[i], .events = events};
    }
    return n;
}

/* Moves what one output fd has; closes it at EOF (a pty master answers EIO then). */
static int drain_fd(int *fd, enum crisp_stream_channel ch, crisp_stream_out_fn out, void *ctx,
                    struct crisp_err *err)
{
    char buf[32768];
    ssize_t n = read(*fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        close_fd(fd);
        return 0;
    }
    return out(ctx, ch, buf, (size_t)n, err);
}

static void reap(struct exec_io *e)
{
    int status = 0;
    while (waitpid(e->pid, &status, 0) < 0 && errno == EINTR) {
    }
    e->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    e->pid = -1;
    e->exited = true;
}

/* With a tty, output left after the exit is read without waiting: a background process
 * may hold the pty open forever. */
static int drain_tty_after_exit(struct exec_io *e, crisp_stream_out_fn out, void *ctx,
                                struct crisp_err *err)
{
    for (int i = 0; i < 64 && e->out_fd >= 0; i++) {
        struct pollfd p = {.fd = e->out_fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            break;
        int r = drain_fd(&e->out_fd, CRISP_CH_STDOUT, out, ctx, err);
        if (r < 0)
            return r;
    }
    close_fd(&e->out_fd);
    return 0;
}

static int exec_pump(struct crisp_stream_io *io, const struct pollfd *p, size_t n,
                     crisp_stream_out_fn out, void *ctx, int *exit_code, struct crisp_err *err)
{
    struct exec_io *e = (struct exec_io *)io;
    if (e->failure) {
        int r = out(ctx, e->tty ? CRISP_CH_STDOUT : CRISP_CH_STDERR, e->failure, strlen(e->failure),
                    err);
        *exit_code = e->exit_code;
        return r < 0 ? r : 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i].fd == e->in.fd && (p[i].revents & (POLLOUT | POLLERR))) {
            int r = crisp_stdin_queue_flush(&e->in, err);
            if (r < 0)
                return r;
        }
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        int r = 0;
        if (p[i].fd == e->out_fd)
            r = drain_fd(&e->out_fd, CRISP_CH_STDOUT, out, ctx, err);
        else if (p[i].fd == e->err_fd)
            r = drain_fd(&e->err_fd, CRISP_CH_STDERR, out, ctx, err);
        else if (p[i].fd == e->pidfd && !e->exited)
            reap(e);
        if (r < 0)
            return r;
    }
    if (e->exited && e->tty && e->out_fd >= 0) {
        int r = drain_tty_after_exit(e, out, ctx, err);
        if (r < 0)
            return r;
    }
    if (!e->exited || e->out_fd >= 0 || e->err_fd >= 0)
        return 0;
    *exit_code = e->exit_code;
    return 1;
}

static int exec_write_stdin(struct crisp_stream_io *io, const void *buf, size_t len,
                            struct crisp_err *err)
{
    return crisp_stdin_queue_write(&((struct exec_io *)io)->in, buf, len, err);
}

static bool exec_input_full(struct crisp_stream_io *io)
{
    return crisp_stdin_queue_full(&((struct exec_io *)io)->in);
}

static void exec_close_stdin(struct crisp_stream_io *io)
{
    struct exec_io *e = (struct exec_io *)io;
    struct crisp_err err;
    if (e->tty) /* a terminal has no half-close: the EOF character, as a typed ^D */
        crisp_stdin_queue_write(&e->in, "\x04", 1, &err);
    else
        crisp_stdin_queue_close(&e->in);
}

static void exec_resize(struct crisp_stream_io *io, uint16_t width, uint16_t height)
{
    struct exec_io *e = (struct exec_io *)io;
    struct winsize ws = {.ws_row = height, .ws_col = width};
    if (e->tty && e->out_fd >= 0)
        ioctl(e->out_fd, TIOCSWINSZ, &ws); /* a pty that is gone has nothing to resize */
}

static void exec_destroy(struct crisp_stream_io *io)
{
    struct exec_io *e = (struct exec_io *)io;
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        reap(e);
    }
    close_fd(&e->pidfd);
    crisp_stdin_queue_free(&e->in);
    close_fd(&e->out_fd);
    close_fd(&e->err_fd);
    free(e->failure);
    free(e);
}

static const struct crisp_stream_io_ops exec_ops = {
    .poll_fds = exec_poll_fds,
    .pump = exec_pump,
    .write_stdin = exec_write_stdin,
    .input_full = exec_input_full,
    .close_stdin = exec_close_stdin,
    .resize = exec_resize,
    .destroy = exec_destroy,
};

/* Pipes for the streams the client wants; the process's other stdio is /dev/null. */
static int make_pipes(struct exec_io *e, const struct crisp_exec_stream_opts *o,
                      struct crisp_exec_stdio *stdio, struct crisp_err *err)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if ((o->want_stdin && pipe2(in, O_CLOEXEC) < 0) ||
        (o->want_stdout && pipe2(outp, O_CLOEXEC) < 0) ||
        (o->want_stderr && pipe2(errp, O_CLOEXEC) < 0)) {
        int saved = errno;
        for (int i = 0; i < 2; i++) {
            close_fd(&in[i]);
            close_fd(&outp[i]);
            close_fd(&errp[i]);
        }
        return crisp_syserrf(err, saved, "Exec: pipe");
    }
    crisp_stdin_queue_init(&e->in, in[1], true);
    e->out_fd = outp[0];
    e->err_fd = errp[0];
    *stdio =
        (struct crisp_exec_stdio){.stdin_fd = in[0], .stdout_fd = outp[1], .stderr_fd = errp[1]};
    return 0;
}

static void close_child_ends(struct crisp_exec_stdio *stdio)
{
    close_fd(&stdio->stdin_fd);
    close_fd(&stdio->stdout_fd);
    close_fd(&stdio->stderr_fd);
}

int crisp_ctr_exec_stream(const struct crisp_ctr_env *env, const char *id, char *const *argv,
                          const struct crisp_exec_stream_opts *opts, struct crisp_stream_io **out,
                          struct crisp_err *err)
{
    struct exec_io *e = crisp_xcalloc(1, sizeof(*e));
    *e = (struct exec_io){
        .io.ops = &exec_ops, .pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1, .tty = opts->tty};
    crisp_stdin_queue_init(&e->in, -1, false);
    struct crisp_exec_stdio stdio = {.stdin_fd = -1,
                                     .stdout_fd = -1,
                                     .stderr_fd = -1,
                                     .tty = opts->tty,
                                     .tty_width = opts->tty_width,
                                     .tty_height = opts->tty_height};
    int r = opts->tty ? 0 : make_pipes(e, opts, &stdio, err);
    struct crisp_exec_result res = {.pid = -1, .pty_master = -1};
    bool not_runnable = false;
    if (r == 0)
        r = crisp_ctr_exec_start(env, id, "Exec", argv, &stdio, &res, &not_runnable, err);
    close_child_ends(&stdio);
    if (r < 0 && not_runnable) {
        e->exit_code = crisp_exec_failed_code(r);
        e->failure = crisp_xasprintf("%s%s", err->msg, opts->tty ? "\r\n" : "\n");
        e->exited = true;
        *out = &e->io;
        return 0;
    }
    if (r == 0) {
        e->pid = res.pid;
        if (opts->tty) {
            e->out_fd = res.pty_master;
            crisp_stdin_queue_init(&e->in, opts->want_stdin ? res.pty_master : -1, false);
        }
        e->pidfd = (int)syscall(SYS_pidfd_open, res.pid, 0);
        if (e->pidfd < 0)
            r = crisp_syserrf(err, errno, "Exec: pidfd_open %d", (int)res.pid);
    }
    if (r < 0) {
        exec_destroy(&e->io);
        return r;
    }
    if (e->out_fd >= 0)
        fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
    if (e->err_fd >= 0)
        fcntl(e->err_fd, F_SETFL, O_NONBLOCK);
    *out = &e->io;
    return 0;
}
