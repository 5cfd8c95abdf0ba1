/* Allocation that never returns NULL: crispd cannot do anything useful when
 * the heap is exhausted, so it logs and aborts (a supervisor restarts it and
 * running containers are unaffected). Client input is size-bounded before it
 * reaches an allocation. */
#pragma once

#include <stddef.h>

void *crisp_xmalloc(size_t size);
void *crisp_xcalloc(size_t n, size_t size);
void *crisp_xrealloc(void *p, size_t size);
char *crisp_xstrdup(const char *s);
char *crisp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
