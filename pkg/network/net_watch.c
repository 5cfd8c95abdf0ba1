#define _GNU_SOURCE
#include "network/net_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/inotify.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define DIR_EVENTS                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE_SELF |       \
     IN_MOVE_SELF | IN_ATTRIB)
#define RETRY_MS 1000

/* Reads the pending events; returns false when the watch is gone. */
static bool consume(int ino)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool alive = true;
    ssize_t n;
    while ((n = read(ino, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
                alive = false;
            p += sizeof(*ev) + ev->len;
        }
    }
    return alive;
}

static void *watch_loop(void *arg)
{
    struct crisp_network *net = arg;
    int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino < 0)
        log_warn("network", "inotify: %s; %s is re-read every second", strerror(errno),
                 net->conf_dir);
    int wd = -1;
    for (;;) {
        if (ino >= 0 && wd < 0) {
            wd = inotify_add_watch(ino, net->conf_dir, DIR_EVENTS | IN_ONLYDIR);
            crisp_network_refresh(net); /* whatever changed before the watch */
        }
        struct pollfd p[2] = {{net->wake[0], POLLIN, 0}, {ino, POLLIN, 0}};
        int r = poll(p, 2, wd < 0 ? RETRY_MS : -1);
        if (r < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (r == 0 && ino < 0)
            crisp_network_refresh(net);
        if (p[1].revents) {
            if (!consume(ino)) {
                inotify_rm_watch(ino, wd);
                wd = -1;
            }
            crisp_network_refresh(net);
        }
    }
    if (ino >= 0)
        close(ino);
    return NULL;
}

int crisp_network_watch_start(struct crisp_network *net, struct crisp_err *err)
{
    if (pipe2(net->wake, O_CLOEXEC) < 0)
        return crisp_syserrf(err, errno, "pipe for the CNI config watcher");
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to main's sigwait */
    int r = pthread_create(&net->watcher, NULL, watch_loop, net);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return crisp_syserrf(err, r, "start the CNI config watcher");
    net->watching = true;
    return 0;
}

void crisp_network_watch_stop(struct crisp_network *net)
{
    if (net->watching) {
        if (write(net->wake[1], "x", 1) < 0)
            log_warn("network", "stopping the config watcher: %s", strerror(errno));
        pthread_join(net->watcher, NULL);
        net->watching = false;
    }
    for (int i = 0; i < 2; i++)
        if (net->wake[i] >= 0)
            close(net->wake[i]);
    net->wake[0] = net->wake[1] = -1;
}
