#include "util/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

void crisp_random_id(char out[CRISP_RANDOM_ID_LEN + 1])
{
    unsigned char raw[CRISP_RANDOM_ID_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        abort(); /* the kernel's CSPRNG does not fail for 32 bytes */
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int64_t crisp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
