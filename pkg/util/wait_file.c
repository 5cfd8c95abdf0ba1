#define _GNU_SOURCE
#include "util/wait_file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/deadline.h"

#define POLL_FALLBACK_MS 10
/* A bound on each wait even with inotify, so an event missed (a queue overflow) costs at most
 * this much. */
#define INOTIFY_SLICE_MS 200

static void drain_events(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

bool crisp_wait_for_file(const char *dir, const char *name, int timeout_ms)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int64_t deadline = crisp_monotonic_ms() + timeout_ms;
    _cleanup_close_ int ifd = -1;
    if (timeout_ms > 0 && dfd >= 0) {
        ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd >= 0 && inotify_add_watch(ifd, dir, IN_CREATE | IN_MOVED_TO) < 0) {
            close(ifd);
            ifd = -1;
        }
    }
    for (;;) { /* checked after the watch is in place: an arrival in between is not missed */
        if (dfd >= 0 ? faccessat(dfd, name, F_OK, 0) == 0 : false)
            return true;
        int left = crisp_ms_until(deadline);
        if (dfd < 0 || left <= 0)
            return false;
        if (ifd < 0) {
            struct timespec ts = {0, POLL_FALLBACK_MS * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd p = {.fd = ifd, .events = POLLIN};
        if (poll(&p, 1, left < INOTIFY_SLICE_MS ? left : INOTIFY_SLICE_MS) > 0)
            drain_events(ifd);
    }
}
