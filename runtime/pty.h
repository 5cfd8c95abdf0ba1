/* A pty pair from the devpts instance of the current mount namespace (/dev/pts/ptmx), i.e. the
 * container's own: the process sees a /dev/pts/N that exists in its /dev. */
#pragma once

#include <sys/types.h>

#include "util/err.h"

/* *master and *slave are close-on-exec; the slave is opened through the master
 * (TIOCGPTPEER, no path lookup) and owned by uid. */
int crisp_rt_pty_open(uid_t uid, int *master, int *slave, struct crisp_err *err);
