/* posix_spawn attributes for a child that starts clean: every signal at its
 * default disposition, an empty signal mask. */
#pragma once

#include <spawn.h>

/* posix_spawnattr_init, plus the clean signal state and the given extra
 * POSIX_SPAWN_* flags (POSIX_SPAWN_SETSID, POSIX_SPAWN_SETPGROUP...). */
void crisp_spawnattr_init_clean(posix_spawnattr_t *at, short extra_flags);
