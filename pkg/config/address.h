/* "host:port" listen addresses of the config (stream_address, metrics_address). */
#pragma once

#include <stddef.h>

#include "util/err.h"

/* Splits addr into host (an IPv4 literal, a bracketed IPv6 literal without the
 * brackets, or "localhost") and port (0-65535; 0 = an ephemeral port).
 * Errors (INVALID_ARGUMENT) say what was expected; `what` prefixes them. */
int crisp_address_split(const char *addr, char *host, size_t host_size, int *port, const char *what,
                        struct crisp_err *err);
