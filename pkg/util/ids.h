/* Object ids and timestamps shared by pods and containers. */
#pragma once

#include <stdint.h>

#define CRISP_RANDOM_ID_LEN 64 /* hex characters */

/* A random 256-bit id as 64 lowercase hex characters (getrandom). */
void crisp_random_id(char out[CRISP_RANDOM_ID_LEN + 1]);
/* Wall-clock time in nanoseconds since the epoch, as the CRI reports it. */
int64_t crisp_now_ns(void);
