#define _GNU_SOURCE
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void *check_alloc(void *p, size_t size)
{
    if (!p && size) {
        log_error("mem", "out of memory allocating %zu bytes", size);
        abort();
    }
    return p;
}

void *crisp_xmalloc(size_t size)
{
    return check_alloc(malloc(size ? size : 1), size);
}

void *crisp_xcalloc(size_t n, size_t size)
{
    return check_alloc(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *crisp_xrealloc(void *p, size_t size)
{
    return check_alloc(realloc(p, size ? size : 1), size);
}

char *crisp_xstrdup(const char *s)
{
    return check_alloc(strdup(s), strlen(s) + 1);
}

char *crisp_xasprintf(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return check_alloc(n < 0 ? NULL : out, 1);
}
