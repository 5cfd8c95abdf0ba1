#define _GNU_SOURCE
#include "monitor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor/attach_server.h"
#include "monitor/control.h"
#include "monitor/crilog.h"
#include "monitor/exit.h"
#include "monitor/oom.h"
#include "monitor/spec.h"
#include "runtime/container.h"
#include "util/deadline.h"
#include "util/ids.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define N_OUTPUTS      2
#define READS_PER_WAKE 8 /* per stream and wakeup: the other stream and requests get a turn */

struct output {
    int fd; /* the monitor's read end (or the pty master); -1 once at EOF */
    struct crisp_crilog_stream stream;
};

struct monitor {
    const char *dir;
    char *id, *log_path, *oom_file, *oom_key; /* copied from the spec, which is freed early */
    struct crisp_crilog log;
    struct crisp_container *c; /* until start */
    pid_t pid;
    int pidfd;
    int sigfd;
    struct output out[N_OUTPUTS];
    struct crisp_monitor_ctl ctl;
    struct crisp_attach_server attach; /* owns the container's stdin */
    bool started, exited, exit_written;
    int64_t drain_deadline; /* CLOCK_MONOTONIC ms, once exited */
    uint64_t oom_base;
    struct crisp_monitor_exit exit;
};

static char *dir_file(const struct monitor *m, const char *name)
{
    return crisp_xasprintf("%s/%s", m->dir, name);
}

static int write_pid_file(const struct monitor *m, const char *name, pid_t pid,
                          struct crisp_err *err)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "%d\n", (int)pid);
    char *path = dir_file(m, name);
    int r = crisp_write_file_atomic(path, text, (size_t)len, 0644, err);
    free(path);
    return r;
}

static void remove_file(const struct monitor *m, const char *name)
{
    char *path = dir_file(m, name);
    unlink(path);
    free(path);
}

/* ---- the container process ---- */

static int signal_container(struct monitor *m, int sig)
{
    if (m->exited || m->pid <= 0)
        return 0;
    long r =
        m->pidfd >= 0 ? syscall(SYS_pidfd_send_signal, m->pidfd, sig, NULL, 0) : kill(m->pid, sig);
    if (r < 0 && errno != ESRCH)
        return -errno;
    return 0; /* ESRCH: already gone */
}

static void record_status(struct monitor *m, int status)
{
    m->exited = true;
    m->exit.finished_at = crisp_now_ns();
    if (WIFSIGNALED(status)) {
        m->exit.signal = WTERMSIG(status);
        m->exit.exit_code = 128 + m->exit.signal;
    } else {
        m->exit.exit_code = WEXITSTATUS(status);
    }
    m->drain_deadline = crisp_monotonic_ms() + CRISP_MONITOR_DRAIN_TIMEOUT_MS;
    log_info("monitor", "container %s: process %d exited: code %d, signal %d", m->id, (int)m->pid,
             m->exit.exit_code, m->exit.signal);
}

/* Reaps every child: the container (its status is kept) and anything else. */
static void reap_children(struct monitor *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            return;
        if (pid == m->pid && !m->exited)
            record_status(m, status);
    }
}

static void terminate(struct monitor *m, int sig)
{
    if (m->exited)
        return;
    log_info("monitor", "container %s: signal %d to the monitor: killing process %d", m->id, sig,
             (int)m->pid);
    int r = signal_container(m, SIGKILL);
    if (r < 0)
        log_error("monitor", "container %s: kill process %d: %s", m->id, (int)m->pid, strerror(-r));
}

static void handle_signals(struct monitor *m)
{
    struct signalfd_siginfo si;
    while (read(m->sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap_children(m);
        else
            terminate(m, (int)si.ssi_signo);
    }
    /* SIGCHLD is not queued per child: reaping on any wakeup costs little and misses nothing. */
    reap_children(m);
}

/* ---- output ---- */

static void output_close(struct monitor *m, struct output *o)
{
    crisp_crilog_stream_flush(&m->log, &o->stream);
    close(o->fd);
    o->fd = -1;
}

static enum crisp_attach_kind output_kind(const struct monitor *m, const struct output *o)
{
    return o == &m->out[0] ? CRISP_ATTACH_STDOUT : CRISP_ATTACH_STDERR;
}

/* Reads what is there (at most max reads); EOF (or EIO: a pty without a slave) closes it. */
static void output_read(struct monitor *m, struct output *o, int max)
{
    for (int i = 0; i < max && o->fd >= 0; i++) {
        size_t room;
        char *at = crisp_crilog_stream_room(&o->stream, &room);
        ssize_t n = read(o->fd, at, room);
        if (n > 0) {
            crisp_attach_server_output(&m->attach, output_kind(m, o), at, (size_t)n);
            crisp_crilog_stream_commit(&m->log, &o->stream, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0 && errno != EIO)
            log_warn("monitor", "container %s: read %s: %s", m->id, o->stream.name,
                     strerror(errno));
        output_close(m, o);
    }
}

static bool outputs_open(const struct monitor *m)
{
    for (int i = 0; i < N_OUTPUTS; i++)
        if (m->out[i].fd >= 0)
            return true;
    return false;
}

/* ---- the end ---- */

static bool oom_killed(struct monitor *m)
{
    uint64_t after;
    if (!m->oom_file || !m->started)
        return false;
    int r = crisp_monitor_oom_count(m->oom_file, m->oom_key, &after);
    if (r < 0) {
        log_warn("monitor", "container %s: read %s %s: %s", m->id, m->oom_file, m->oom_key,
                 strerror(-r));
        return false;
    }
    /* A SIGKILL in a cgroup that has seen an OOM kill is taken for one, even when the counter
     * was already up at create (a counter shared with an earlier process). */
    return after > m->oom_base || (m->exit.signal == SIGKILL && after > 0);
}

/* Setup ran much code the monitor never runs again (spec parsing, the launcher), and the
 * kernel maps file pages around every fault in 64 KiB windows: drop our mappings of the
 * code so that only what the watch loop runs is faulted back in. The pages stay in the
 * page cache; nothing is lost (text is never written). Best effort. */
static void release_setup_code(void)
{
    extern const char __executable_start[], etext[];
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)__executable_start & ~(page - 1);
    uintptr_t end = ((uintptr_t)etext + page - 1) & ~(page - 1);
    (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

/* Drains what is left, writes exit.json. The loop ends after this. */
static void finish(struct monitor *m)
{
    for (int i = 0; i < N_OUTPUTS; i++) {
        if (m->out[i].fd >= 0)
            output_read(m, &m->out[i], 256);
        if (m->out[i].fd >= 0) /* a writer is left (a process outside the pid ns): stop here */
            output_close(m, &m->out[i]);
    }
    m->exit.oom_killed = oom_killed(m);
    /* Gone before exit.json: whoever sees the container exited finds no socket. */
    crisp_attach_server_stop_listening(&m->attach);
    struct crisp_err err = {0};
    char *path = dir_file(m, "exit.json");
    if (crisp_monitor_exit_write(path, &m->exit, &err) < 0)
        log_error("monitor", "container %s: %s", m->id, err.msg);
    free(path);
    m->exit_written = true;
    crisp_attach_server_exit(&m->attach, m->exit.exit_code);
}

/* ---- control requests ---- */

static void reply_err(char *reply, size_t size, const struct crisp_err *err)
{
    snprintf(reply, size, "error %d %s", (int)err->code, err->msg);
}

static void cmd_start(struct monitor *m, char *reply, size_t size)
{
    struct crisp_err err = {0};
    if (m->started || m->exited) {
        crisp_errorf(&err, GRPC_STATUS_FAILED_PRECONDITION, EALREADY, "container %s %s", m->id,
                     m->exited ? "has exited" : "was already started");
        reply_err(reply, size, &err);
        return;
    }
    int r = crisp_container_start(m->c, &err);
    m->started = true;
    crisp_container_free(m->c); /* nothing left in it: the channel is closed */
    m->c = NULL;
    if (r == 0) {
        m->exit.started_at = crisp_now_ns();
        log_info("monitor", "container %s: started process %d", m->id, (int)m->pid);
        snprintf(reply, size, "ok %lld", (long long)m->exit.started_at);
        return;
    }
    /* The launcher has reaped the process: record the failure, then reply. */
    log_warn("monitor", "container %s: start: %s", m->id, err.msg);
    m->exited = true;
    m->exit.exit_code = CRISP_MONITOR_START_ERROR_EXIT_CODE;
    m->exit.finished_at = crisp_now_ns();
    snprintf(m->exit.reason, sizeof(m->exit.reason), "StartError");
    snprintf(m->exit.message, sizeof(m->exit.message), "%s", err.msg);
    finish(m);
    reply_err(reply, size, &err);
}

/* The request, quoted for an error reply: printable ASCII only, bounded. */
static void quote(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        out[n++] = isprint((unsigned char)*s) ? *s : '?';
    out[n] = '\0';
}

static int parse_signal(const char *s)
{
    if (!isdigit((unsigned char)s[0]) || strlen(s) > 3)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == '\0' && v >= 1 && v < _NSIG ? (int)v : -1;
}

static void cmd_kill(struct monitor *m, const char *arg, char *reply, size_t size)
{
    int sig = parse_signal(arg);
    if (sig < 0) {
        char q[20];
        quote(arg, q, sizeof(q));
        snprintf(reply, size, "error %d invalid signal \"%s\"", GRPC_STATUS_INVALID_ARGUMENT, q);
        return;
    }
    int r = signal_container(m, sig);
    if (r < 0) {
        struct crisp_err err;
        crisp_syserrf(&err, -r, "signal %d to container %s process %d", sig, m->id, (int)m->pid);
        reply_err(reply, size, &err);
        return;
    }
    snprintf(reply, size, "ok");
}

static void cmd_reopen(struct monitor *m, char *reply, size_t size)
{
    struct crisp_err err = {0};
    if (crisp_crilog_reopen(&m->log, &err) < 0) {
        reply_err(reply, size, &err);
        return;
    }
    snprintf(reply, size, "ok");
}

static void handle_request(void *arg, char *line, char *reply, size_t size)
{
    struct monitor *m = arg;
    if (strcmp(line, "start") == 0) {
        cmd_start(m, reply, size);
    } else if (strncmp(line, "kill ", 5) == 0) {
        cmd_kill(m, line + 5, reply, size);
    } else if (strcmp(line, "reopen") == 0) {
        cmd_reopen(m, reply, size);
    } else if (strcmp(line, "state") == 0) {
        snprintf(reply, size, "%s", m->exited ? "exited" : m->started ? "running" : "created");
    } else {
        char q[64];
        quote(line, q, sizeof(q));
        snprintf(reply, size, "error %d unknown command \"%s\"", GRPC_STATUS_INVALID_ARGUMENT, q);
    }
}

/* ---- the loop ---- */

static void run(struct monitor *m)
{
    while (!m->exit_written) {
        struct pollfd fds[1 + N_OUTPUTS + 1 + CRISP_MONITOR_CTL_CLIENTS + CRISP_ATTACH_POLLFDS];
        size_t n = 0;
        fds[n++] = (struct pollfd){.fd = m->sigfd, .events = POLLIN};
        for (int i = 0; i < N_OUTPUTS; i++)
            fds[n++] = (struct pollfd){.fd = m->out[i].fd, .events = POLLIN};
        size_t nctl = crisp_monitor_ctl_pollfds(&m->ctl, fds + n);
        size_t natt = crisp_attach_server_pollfds(&m->attach, fds + n + nctl);
        int timeout = -1;
        if (m->exited) {
            int64_t left = m->drain_deadline - crisp_monotonic_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        if (poll(fds, n + nctl + natt, timeout) < 0) {
            if (errno != EINTR) { /* cannot really happen: do not spin if it does */
                log_error("monitor", "container %s: poll: %s", m->id, strerror(errno));
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        if (fds[0].revents)
            handle_signals(m);
        for (int i = 0; i < N_OUTPUTS; i++)
            if (fds[1 + i].revents && m->out[i].fd >= 0)
                output_read(m, &m->out[i], READS_PER_WAKE);
        crisp_monitor_ctl_dispatch(&m->ctl, fds + n, nctl, handle_request, m);
        crisp_attach_server_dispatch(&m->attach, fds + n + nctl, natt);
        if (m->exited && !m->exit_written &&
            (!outputs_open(m) || crisp_monotonic_ms() >= m->drain_deadline))
            finish(m);
    }
}

/* ---- setup ---- */

static int setup_signals(struct monitor *m, struct crisp_err *err)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGPIPE, &ign, NULL);
    sigaction(SIGHUP, &ign, NULL);
    /* Ignored signals are dropped before a signalfd can see them, and crispd may ignore some:
     * SIGCHLD must not be ignored anyway (the launcher and we wait for children). */
    sigaction(SIGCHLD, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
        return crisp_syserrf(err, errno, "sigprocmask");
    m->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m->sigfd < 0)
        return crisp_syserrf(err, errno, "signalfd");
    return 0;
}

static int set_nonblock(int fd, struct crisp_err *err)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return crisp_syserrf(err, errno, "fcntl O_NONBLOCK");
    return 0;
}

/* The container's ends of the stdio pipes: fds[0..2], -1 = /dev/null. */
static int make_pipes(struct monitor *m, const struct crisp_monitor_spec *s, int child[3],
                      struct crisp_err *err)
{
    int p[2];
    if (s->stdin) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return crisp_syserrf(err, errno, "pipe");
        child[0] = p[0];
        m->attach.stdin_fd = p[1];
    }
    for (int i = 0; i < N_OUTPUTS; i++) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return crisp_syserrf(err, errno, "pipe");
        m->out[i].fd = p[0];
        child[1 + i] = p[1];
        int r = set_nonblock(p[0], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static void close_fds(int fds[3])
{
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static int create_container(struct monitor *m, const struct crisp_monitor_spec *s,
                            struct crisp_err *err)
{
    struct crisp_container_spec cs;
    if (crisp_monitor_spec_to_container_spec(s, &cs) < 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "spec has no argv");
    int child[3] = {-1, -1, -1};
    int r = s->tty ? 0 : make_pipes(m, s, child, err);
    if (r == 0) {
        cs.process.stdin_fd = child[0];
        cs.process.stdout_fd = child[1];
        cs.process.stderr_fd = child[2];
        r = crisp_container_create(&cs, &m->c, err);
    }
    close_fds(child);
    if (r < 0)
        return r;
    m->pid = crisp_container_pid(m->c);
    if (s->tty) {
        int master = crisp_container_take_pty(m->c);
        if (master < 0)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "no pty from the container");
        m->out[0].fd = master;
        r = set_nonblock(master, err);
        if (r < 0)
            return r;
        m->attach.pty_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (m->attach.pty_fd < 0)
            return crisp_syserrf(err, errno, "dup the pty master");
        if (s->stdin) {
            m->attach.stdin_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
            if (m->attach.stdin_fd < 0)
                return crisp_syserrf(err, errno, "dup the pty master");
        }
    }
    /* The container is our child and unreaped: its pid cannot be reused before this. */
    m->pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
    if (m->pidfd < 0 && errno != ENOSYS)
        return crisp_syserrf(err, errno, "pidfd_open %d", (int)m->pid);
    return 0;
}

static void read_oom_base(struct monitor *m)
{
    if (!m->oom_file)
        return;
    int r = crisp_monitor_oom_count(m->oom_file, m->oom_key, &m->oom_base);
    if (r < 0) {
        log_warn("monitor", "container %s: read %s %s: %s (counting from 0)", m->id, m->oom_file,
                 m->oom_key, strerror(-r));
        m->oom_base = 0;
    }
}

static char *dup_or_null(const char *s)
{
    return s ? crisp_xstrdup(s) : NULL;
}

static int setup(struct monitor *m, struct crisp_err *err)
{
    int r = setup_signals(m, err);
    if (r == 0)
        r = write_pid_file(m, "monitor.pid", getpid(), err);
    if (r < 0)
        return r;
    struct crisp_monitor_spec spec;
    char *path = dir_file(m, "spec.json");
    r = crisp_monitor_spec_read(path, &spec, err);
    free(path);
    if (r < 0)
        return r;
    m->id = crisp_xstrdup(spec.container_id ? spec.container_id : m->dir);
    m->log_path = dup_or_null(spec.log_path);
    m->oom_file = dup_or_null(spec.oom_file);
    m->oom_key = dup_or_null(spec.oom_key);
    m->attach.ident = m->id;
    m->attach.stdin_once = spec.stdin_once;
    r = crisp_crilog_open(&m->log, m->log_path, m->id, err);
    if (r == 0)
        r = create_container(m, &spec, err);
    crisp_monitor_spec_free(&spec);
    malloc_trim(0); /* the spec was the biggest thing we will ever hold */
    if (r < 0)
        return r;
    read_oom_base(m);
    r = crisp_monitor_ctl_listen(&m->ctl, m->dir, err);
    if (r == 0)
        r = crisp_attach_server_listen(&m->attach, m->dir, err);
    if (r == 0)
        r = write_pid_file(m, "pid", m->pid, err);
    if (r == 0)
        release_setup_code();
    return r;
}

/* Undoes setup after a failure. */
static void undo_setup(struct monitor *m)
{
    if (m->pid > 0) {
        signal_container(m, SIGKILL);
        while (waitpid(m->pid, NULL, __WALL) < 0 && errno == EINTR)
            ;
    }
    crisp_monitor_ctl_close(&m->ctl);
    crisp_attach_server_close(&m->attach);
    remove_file(m, "pid");
    remove_file(m, "monitor.pid");
}

static void report(int fd, const char *line)
{
    if (fd < 0)
        return;
    size_t len = strlen(line);
    while (len > 0) {
        ssize_t n = write(fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_warn("monitor", "report to crispd: %s", strerror(errno));
            break;
        }
        line += n;
        len -= (size_t)n;
    }
    close(fd);
}

static void report_error(int fd, const struct crisp_err *err)
{
    char line[CRISP_ERR_MSG_MAX + 32];
    snprintf(line, sizeof(line), "error %d %s", (int)err->code, err->msg);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t len = strlen(line);
    line[len] = '\n';
    line[len + 1] = '\0';
    report(fd, line);
}

static void release(struct monitor *m)
{
    crisp_monitor_ctl_close(&m->ctl);
    crisp_attach_server_close(&m->attach);
    crisp_container_free(m->c);
    for (int i = 0; i < N_OUTPUTS; i++)
        if (m->out[i].fd >= 0)
            close(m->out[i].fd);
    int fds[] = {m->pidfd, m->sigfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    crisp_crilog_close(&m->log);
    free(m->id);
    free(m->log_path);
    free(m->oom_file);
    free(m->oom_key);
    free(m);
}

int crisp_monitor_main(const char *dir, int report_fd)
{
    struct monitor *m = crisp_xcalloc(1, sizeof(*m));
    m->dir = dir;
    m->pid = -1;
    m->pidfd = m->sigfd = -1;
    crisp_attach_server_init(&m->attach);
    m->log.fd = -1;
    m->ctl.listen_fd = -1;
    for (size_t i = 0; i < CRISP_MONITOR_CTL_CLIENTS; i++)
        m->ctl.clients[i].fd = -1;
    m->out[0].fd = m->out[1].fd = -1;
    m->out[0].stream.name = "stdout";
    m->out[1].stream.name = "stderr";
    struct crisp_err err = {0};
    if (report_fd >= 0)
        fcntl(report_fd, F_SETFD, FD_CLOEXEC);
    int r = setup(m, &err);
    if (r < 0) {
        log_error("monitor", "container %s: %s", m->id ? m->id : dir, err.msg);
        undo_setup(m);
        report_error(report_fd, &err);
        release(m);
        return 1;
    }
    log_info("monitor", "container %s: created process %d", m->id, (int)m->pid);
    char line[32];
    snprintf(line, sizeof(line), "ok %d\n", (int)m->pid);
    report(report_fd, line);
    run(m);
    release(m);
    return 0;
}
