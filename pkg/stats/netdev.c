/* Network interface counters of a pod's network namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats/stats.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/thread.h"

/* /proc/net/dev: two header lines, then
 * "  name: rx_bytes packets errs drop fifo frame compressed multicast
 *          tx_bytes packets errs drop fifo colls carrier compressed". */
static bool parse_line(const char *line, struct crisp_netdev *d)
{
    const char *colon = strchr(line, ':');
    if (!colon)
        return false;
    while (*line == ' ')
        line++;
    size_t len = (size_t)(colon - line);
    if (len == 0 || len >= sizeof(d->name))
        return false;
    memcpy(d->name, line, len);
    d->name[len] = '\0';
    uint64_t v[16];
    int n = sscanf(colon + 1,
                   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
                   &v[11], &v[12], &v[13], &v[14], &v[15]);
    if (n != 16)
        return false;
    d->rx_bytes = v[0];
    d->rx_errors = v[2];
    d->tx_bytes = v[8];
    d->tx_errors = v[10];
    return true;
}

void crisp_stats_parse_netdev(const char *text, struct crisp_netdev **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        _cleanup_free_ char *copy = crisp_xasprintf("%.*s", (int)len, line);
        struct crisp_netdev d;
        if (parse_line(copy, &d)) {
            *out = crisp_xrealloc(*out, (*n + 1) * sizeof(**out));
            (*out)[(*n)++] = d;
        }
        line = eol ? eol + 1 : NULL;
    }
}

struct netns_read {
    const char *netns_path;
    char *text;
    struct crisp_err err;
    int r;
};

/* Runs on its own thread: setns changes only this thread's namespace, and
 * the thread ends right after. */
static void *read_in_netns(void *arg)
{
    struct netns_read *nr = arg;
    _cleanup_close_ int fd = open(nr->netns_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nr->r = crisp_syserrf(&nr->err, errno, "open network namespace %s", nr->netns_path);
        return NULL;
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        nr->r = crisp_syserrf(&nr->err, errno, "join network namespace %s", nr->netns_path);
        return NULL;
    }
    size_t len;
    nr->r = crisp_read_file("/proc/thread-self/net/dev", 1 << 20, &nr->text, &len, &nr->err);
    return NULL;
}

int crisp_stats_netns_devices(const char *netns_path, struct crisp_netdev **out, size_t *n,
                              struct crisp_err *err)
{
    *out = NULL;
    *n = 0;
    struct netns_read nr = {.netns_path = netns_path};
    int r = crisp_run_on_own_thread(read_in_netns, &nr, "read a pod's network devices", err);
    if (r < 0)
        return r;
    if (nr.r < 0) {
        *err = nr.err;
        return nr.r;
    }
    crisp_stats_parse_netdev(nr.text, out, n);
    free(nr.text);
    return 0;
}
