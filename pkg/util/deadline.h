/* Monotonic milliseconds and waiting for an fd until a deadline in them. */
#pragma once

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: what deadlines are measured in. */
int64_t crisp_monotonic_ms(void);
/* The milliseconds left until deadline_ms as a poll() timeout (0 when past). */
int crisp_ms_until(int64_t deadline_ms);
/* Waits until fd has one of events (POLLIN, POLLOUT; POLLHUP and POLLERR count
 * too, so the caller's read or write sees them): 1, -ETIMEDOUT once
 * deadline_ms passed, -errno if poll fails. EINTR is retried. */
int crisp_poll_until(int fd, short events, int64_t deadline_ms);
