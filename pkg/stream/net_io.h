/* Socket helpers of the streaming server. */
#pragma once

#include <stddef.h>

#include "util/err.h"

/* Writes all of buf (EINTR retried; the socket's SO_SNDTIMEO bounds a stuck peer). */
int crisp_write_all(int fd, const void *buf, size_t len, struct crisp_err *err);
/* Ends our side (shutdown SHUT_WR) and reads until the peer closes or up to timeout_ms, so
 * that data the peer has not read yet is not lost to a reset on close. */
void crisp_linger_close(int fd, int timeout_ms);
