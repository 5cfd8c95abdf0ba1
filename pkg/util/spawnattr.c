#define _GNU_SOURCE
#include "util/spawnattr.h"

#include <signal.h>

void crisp_spawnattr_init_clean(posix_spawnattr_t *at, short extra_flags)
{
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_init(at);
    posix_spawnattr_setsigdefault(at, &all);
    posix_spawnattr_setsigmask(at, &none);
    posix_spawnattr_setflags(at,
                             (short)(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | extra_flags));
}
