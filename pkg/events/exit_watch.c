#define _GNU_SOURCE
#include "events/exit_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

struct exit_watch_dir {
    int wd;
    char id[CRISP_CTR_ID_LEN + 1];
};

/* Folds exit.json into the container's state (emitting STOPPED). */
static void refresh(struct crisp_exit_watch *w, const char *id)
{
    struct crisp_ctr *c;
    struct crisp_err err;
    if (crisp_ctr_store_get(w->ctrs, id, &c, &err) < 0)
        return; /* still being created, or removed meanwhile */
    pthread_mutex_lock(&c->lock);
    crisp_ctr_refresh_locked(c);
    pthread_mutex_unlock(&c->lock);
    crisp_ctr_put(w->ctrs, c);
}

static void watch_dir(struct crisp_exit_watch *w, const char *id)
{
    if (strlen(id) != CRISP_CTR_ID_LEN)
        return;
    _cleanup_free_ char *dir = crisp_xasprintf("%s/%s", w->ctrs->dir, id);
    int wd = inotify_add_watch(w->inotify_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
    if (wd < 0) {
        if (errno != ENOENT)
            log_warn("events", "watch %s: %s", dir, strerror(errno));
        return;
    }
    w->dirs = crisp_xrealloc(w->dirs, (w->n_dirs + 1) * sizeof(*w->dirs));
    w->dirs[w->n_dirs].wd = wd;
    memcpy(w->dirs[w->n_dirs++].id, id, CRISP_CTR_ID_LEN + 1);
    _cleanup_free_ char *exit_file = crisp_xasprintf("%s/exit.json", dir);
    if (access(exit_file, F_OK) == 0) /* exited before the watch existed */
        refresh(w, id);
}

static struct exit_watch_dir *dir_of(struct crisp_exit_watch *w, int wd)
{
    for (size_t i = 0; i < w->n_dirs; i++)
        if (w->dirs[i].wd == wd)
            return &w->dirs[i];
    return NULL;
}

static void handle(struct crisp_exit_watch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: look at every container */
        for (size_t i = 0; i < w->n_dirs; i++)
            refresh(w, w->dirs[i].id);
        return;
    }
    if (ev->wd == w->top_wd) {
        if ((ev->mask & IN_ISDIR) && ev->len)
            watch_dir(w, ev->name);
        return;
    }
    struct exit_watch_dir *d = dir_of(w, ev->wd);
    if (!d)
        return;
    if (ev->mask & IN_IGNORED) { /* the directory is gone */
        *d = w->dirs[--w->n_dirs];
        return;
    }
    if (ev->len && strcmp(ev->name, "exit.json") == 0)
        refresh(w, d->id);
}

static void *watch_main(void *arg)
{
    struct crisp_exit_watch *w = arg;
    _Alignas(struct inotify_event) char buf[16384];
    struct pollfd fds[2] = {{.fd = w->inotify_fd, .events = POLLIN},
                            {.fd = w->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("events", "exit watch: poll: %s", strerror(errno));
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        ssize_t n = read(w->inotify_fd, buf, sizeof(buf));
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            log_error("events", "exit watch: read: %s", strerror(errno));
            return NULL;
        }
        for (ssize_t off = 0; off < n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            handle(w, ev);
            off += (ssize_t)(sizeof(*ev) + ev->len);
        }
    }
}

static int scan_existing(struct crisp_exit_watch *w, struct crisp_err *err)
{
    _cleanup_closedir_ DIR *d = opendir(w->ctrs->dir);
    if (!d)
        return crisp_syserrf(err, errno, "open %s", w->ctrs->dir);
    struct dirent *e;
    while ((e = readdir(d)))
        watch_dir(w, e->d_name);
    return 0;
}

int crisp_exit_watch_start(struct crisp_exit_watch *w, struct crisp_ctr_store *ctrs,
                           struct crisp_err *err)
{
    memset(w, 0, sizeof(*w));
    w->ctrs = ctrs;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    w->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (w->inotify_fd < 0)
        return crisp_syserrf(err, errno, "inotify_init1");
    if (pipe2(w->stop_pipe, O_CLOEXEC) < 0)
        return crisp_syserrf(err, errno, "pipe2");
    w->top_wd = inotify_add_watch(w->inotify_fd, ctrs->dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
    if (w->top_wd < 0)
        return crisp_syserrf(err, errno, "watch %s", ctrs->dir);
    int r = scan_existing(w, err);
    if (r < 0)
        return r;
    r = pthread_create(&w->thread, NULL, watch_main, w);
    if (r != 0)
        return crisp_syserrf(err, r, "start the exit watch thread");
    w->started = true;
    return 0;
}

void crisp_exit_watch_stop(struct crisp_exit_watch *w)
{
    if (w->started) {
        char byte = 0;
        if (write(w->stop_pipe[1], &byte, 1) < 0)
            log_warn("events", "stop the exit watch: %s", strerror(errno));
        pthread_join(w->thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (w->stop_pipe[i] >= 0)
            close(w->stop_pipe[i]);
    if (w->inotify_fd >= 0)
        close(w->inotify_fd);
    free(w->dirs);
    memset(w, 0, sizeof(*w));
    w->inotify_fd = -1;
}
