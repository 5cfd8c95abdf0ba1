#define _GNU_SOURCE
#include "network/cni_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/deadline.h"
#include "util/mem.h"
#include "util/spawnattr.h"

#define STDOUT_MAX  (1u << 20)
#define STDERR_KEEP 2048

/* The plugin dirs joined with ':' (CNI_PATH, and for messages). */
static char *bin_path(const struct crisp_cni_plugin_dirs *dirs)
{
    size_t len = 1;
    for (size_t i = 0; i < dirs->n_bin_dirs; i++)
        len += strlen(dirs->bin_dirs[i]) + 1;
    char *out = crisp_xcalloc(1, len);
    for (size_t i = 0; i < dirs->n_bin_dirs; i++) {
        if (i)
            strcat(out, ":");
        strcat(out, dirs->bin_dirs[i]);
    }
    return out;
}

int crisp_cni_find_plugin(const struct crisp_cni_plugin_dirs *dirs, const char *type, char **path,
                          struct crisp_err *err)
{
    for (size_t i = 0; i < dirs->n_bin_dirs; i++) {
        _cleanup_free_ char *p = crisp_xasprintf("%s/%s", dirs->bin_dirs[i], type);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0) {
            *path = crisp_steal_ptr(p);
            return 0;
        }
    }
    _cleanup_free_ char *joined = bin_path(dirs);
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                        "CNI plugin \"%s\" not found: no executable %s in cni_bin_dirs (%s)", type,
                        type, joined);
}

static void close_child_fds(struct crisp_cni_proc *c)
{
    int *fds[] = {&c->in, &c->out, &c->errfd};
    for (size_t i = 0; i < 3; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
}

/* The plugin gets its own process group, so a timeout kills what it ran too
 * (iptables), default signal dispositions and an empty signal mask. */
static int spawn(const char *path, char *const argv[], char *const env[], int fds[3][2], pid_t *pid,
                 struct crisp_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0][0], 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1][1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[2][1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    crisp_spawnattr_init_clean(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    int r = posix_spawn(pid, path, &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r != 0)
        return crisp_syserrf(err, r, "exec CNI plugin %s", path);
    return 0;
}

static int start(const char *path, const char *type, const struct crisp_cni_invocation *inv,
                 const char *cni_path, struct crisp_cni_proc *c, struct crisp_err *err)
{
    int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    int r = 0;
    for (int i = 0; i < 3 && r == 0; i++)
        if (pipe2(fds[i], O_CLOEXEC) < 0)
            r = crisp_syserrf(err, errno, "pipe for CNI plugin %s", type);
    _cleanup_free_ char *e_cmd = crisp_xasprintf("CNI_COMMAND=%s", inv->command);
    _cleanup_free_ char *e_id = crisp_xasprintf("CNI_CONTAINERID=%s", inv->container_id);
    _cleanup_free_ char *e_ns = crisp_xasprintf("CNI_NETNS=%s", inv->netns);
    _cleanup_free_ char *e_if = crisp_xasprintf("CNI_IFNAME=%s", inv->ifname);
    _cleanup_free_ char *e_args = crisp_xasprintf("CNI_ARGS=%s", inv->args);
    _cleanup_free_ char *e_path = crisp_xasprintf("CNI_PATH=%s", cni_path);
    char *env[] = {e_cmd,
                   e_id,
                   e_ns,
                   e_if,
                   e_args,
                   e_path,
                   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   NULL};
    char *argv[] = {(char *)type, NULL};
    if (r == 0)
        r = spawn(path, argv, env, fds, &c->pid, err);
    /* keep our ends: stdin's write end, stdout's and stderr's read ends */
    c->in = fds[0][1], c->out = fds[1][0], c->errfd = fds[2][0];
    int theirs[] = {fds[0][0], fds[1][1], fds[2][1]};
    for (int i = 0; i < 3; i++)
        if (theirs[i] >= 0)
            close(theirs[i]);
    if (r == 0)
        for (int i = 0; i < 3; i++)
            fcntl(i == 0 ? c->in : i == 1 ? c->out : c->errfd, F_SETFL, O_NONBLOCK);
    else
        close_child_fds(c);
    return r;
}

struct io {
    const char *in;
    size_t in_len, in_off;
    char *out;
    size_t out_len;
    char err_text[STDERR_KEEP + 1];
    size_t err_len;
};

/* Reads what is there; returns false at EOF or error. */
static bool drain(int fd, struct io *io, bool is_stdout)
{
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN;
        if (n == 0)
            return false;
        if (is_stdout && io->out_len + (size_t)n <= STDOUT_MAX) {
            io->out = crisp_xrealloc(io->out, io->out_len + (size_t)n + 1);
            memcpy(io->out + io->out_len, buf, (size_t)n);
            io->out_len += (size_t)n;
            io->out[io->out_len] = '\0';
        } else if (!is_stdout && io->err_len < STDERR_KEEP) {
            size_t k =
                (size_t)n < STDERR_KEEP - io->err_len ? (size_t)n : STDERR_KEEP - io->err_len;
            memcpy(io->err_text + io->err_len, buf, k);
            io->err_len += k;
        }
    }
}

static void feed(struct crisp_cni_proc *c, struct io *io)
{
    while (io->in_off < io->in_len) {
        ssize_t n = write(c->in, io->in + io->in_off, io->in_len - io->in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0)
            break; /* EPIPE: the plugin does not read its config; its exit tells */
        io->in_off += (size_t)n;
    }
    close(c->in);
    c->in = -1;
}

/* Moves the config in and the output out until both outputs close or the
 * deadline passes. Returns false on timeout. */
static bool pump(struct crisp_cni_proc *c, struct io *io, long long deadline)
{
    while (c->out >= 0 || c->errfd >= 0) {
        struct pollfd p[3] = {{c->in, POLLOUT, 0}, {c->out, POLLIN, 0}, {c->errfd, POLLIN, 0}};
        long long left = deadline - crisp_monotonic_ms();
        if (left <= 0)
            return false;
        if (poll(p, 3, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            return false;
        if (c->in >= 0 && p[0].revents)
            feed(c, io);
        if (c->out >= 0 && p[1].revents && !drain(c->out, io, true)) {
            close(c->out);
            c->out = -1;
        }
        if (c->errfd >= 0 && p[2].revents && !drain(c->errfd, io, false)) {
            close(c->errfd);
            c->errfd = -1;
        }
    }
    return true;
}

/* Waits for the plugin until the deadline (woken by its pidfd the moment it exits: it often
 * closes its output just before); kills its group past it. */
static bool reap(pid_t pid, long long deadline, int *status)
{
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* our unreaped child */
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return w == pid;
        if (crisp_monotonic_ms() >= deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return false;
        }
        if (pidfd < 0 || crisp_poll_until(pidfd, POLLIN, deadline) < 0) { /* no pidfd: < 5.3 */
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

/* A failed plugin: its CNI error object (code, msg, details) or its stderr. */
static int plugin_failed(const char *type, const struct crisp_cni_invocation *inv, int status,
                         struct io *io, struct crisp_err *err)
{
    json_t *doc = io->out ? json_loads(io->out, 0, NULL) : NULL;
    _cleanup_json_ json_t *owned = doc;
    const char *msg = json_string_value(json_object_get(doc, "msg"));
    const char *details = json_string_value(json_object_get(doc, "details"));
    if (msg)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                            "CNI plugin %s %s failed: %s%s%s (code %lld)", type, inv->command, msg,
                            details && *details ? ": " : "", details ? details : "",
                            (long long)json_integer_value(json_object_get(doc, "code")));
    io->err_text[io->err_len] = '\0';
    trim(io->err_text);
    if (WIFSIGNALED(status))
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                            "CNI plugin %s %s was killed by signal %d%s%s", type, inv->command,
                            WTERMSIG(status), *io->err_text ? ": " : "", io->err_text);
    return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                        "CNI plugin %s %s exited with status %d%s%s", type, inv->command,
                        WEXITSTATUS(status), *io->err_text ? ": " : "", io->err_text);
}

static int parse_output(const char *type, const struct crisp_cni_invocation *inv, struct io *io,
                        json_t **result, struct crisp_err *err)
{
    *result = NULL;
    if (!io->out || !*io->out)
        return 0;
    json_error_t jerr;
    *result = json_loads(io->out, 0, &jerr);
    if (!*result)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EPROTO,
                            "CNI plugin %s %s printed invalid JSON: %s (line %d)", type,
                            inv->command, jerr.text, jerr.line);
    return 0;
}

int crisp_cni_start(const struct crisp_cni_plugin_dirs *dirs, const char *type,
                    const struct crisp_cni_invocation *inv, struct crisp_cni_proc *p,
                    struct crisp_err *err)
{
    *p = (struct crisp_cni_proc){.pid = -1, .in = -1, .out = -1, .errfd = -1};
    _cleanup_free_ char *path = NULL;
    int r = crisp_cni_find_plugin(dirs, type, &path, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *cni_path = bin_path(dirs);
    r = start(path, type, inv, cni_path, p, err);
    if (r == 0)
        p->type = crisp_xstrdup(type);
    return r;
}

void crisp_cni_cancel(struct crisp_cni_proc *p)
{
    close_child_fds(p);
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(p->type);
    p->type = NULL;
    p->pid = -1;
}

int crisp_cni_finish(const struct crisp_cni_plugin_dirs *dirs,
                     const struct crisp_cni_invocation *inv, struct crisp_cni_proc *p,
                     const json_t *config, json_t **result, struct crisp_err *err)
{
    *result = NULL;
    _cleanup_free_ char *stdin_text = json_dumps(config, JSON_COMPACT);
    _cleanup_free_ char *type = crisp_steal_ptr(p->type);
    struct io io = {.in = stdin_text, .in_len = strlen(stdin_text)};
    long long deadline = crisp_monotonic_ms() + (long long)dirs->timeout_seconds * 1000;
    int status = 0;
    bool in_time = pump(p, &io, deadline);
    close_child_fds(p);
    in_time = reap(p->pid, in_time ? deadline : 0, &status) && in_time;
    p->pid = -1;
    int r;
    if (!in_time)
        r = crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                         "CNI plugin %s %s did not finish within %d s "
                         "(cni_plugin_timeout_seconds); it was killed",
                         type, inv->command, dirs->timeout_seconds);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r = plugin_failed(type, inv, status, &io, err);
    else
        r = parse_output(type, inv, &io, result, err);
    free(io.out);
    return r;
}

int crisp_cni_exec(const struct crisp_cni_plugin_dirs *dirs, const char *type,
                   const struct crisp_cni_invocation *inv, const json_t *config, json_t **result,
                   struct crisp_err *err)
{
    *result = NULL;
    struct crisp_cni_proc p;
    int r = crisp_cni_start(dirs, type, inv, &p, err);
    return r < 0 ? r : crisp_cni_finish(dirs, inv, &p, config, result, err);
}
