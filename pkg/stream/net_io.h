/* Socket helpers of the streaming server. */
#pragma once

#include <stddef.h>

#include "util/err.h"

/* Writes all of buf (EINTR retried; the socket's SO_SNDTIMEO bounds a stuck peer). */
int crisp_write_all(int fd, const void *buf, size_t len, struct crisp_err *err);
