#define _GNU_SOURCE
#include "util/deadline.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

int64_t crisp_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int crisp_ms_until(int64_t deadline_ms)
{
    int64_t left = deadline_ms - crisp_monotonic_ms();
    return left > 0 ? (int)(left > INT_MAX ? INT_MAX : left) : 0;
}

int crisp_poll_until(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int wait = crisp_ms_until(deadline_ms);
        struct pollfd p = {.fd = fd, .events = events};
        int pr = poll(&p, 1, wait);
        if (pr > 0)
            return 1;
        if (pr < 0 && errno != EINTR)
            return -errno;
        if (pr == 0 && wait == 0)
            return -ETIMEDOUT;
    }
}
