/* Threads started the two ways crispd needs: a throwaway one waited for (work that changes
 * per-thread state, such as setns or unshare, which must not stay on the caller's thread), and
 * a detached one (a connection or a long call that ends on its own). */
#pragma once

#include "util/err.h"

/* Runs fn(arg) on a new thread and waits for it to end. Fails only when the thread cannot
 * start (what: for the message); fn reports its own outcome through arg. */
int crisp_run_on_own_thread(void *(*fn)(void *), void *arg, const char *what,
                            struct crisp_err *err);
/* Starts fn(arg) on a detached thread: 0, or pthread_create's error number. */
int crisp_thread_start_detached(void *(*fn)(void *), void *arg);
