/* Scope-bound ownership: variables declared with these attributes release
 * their resource when they go out of scope. Set them to NULL / -1 to hand
 * ownership elsewhere. */
#pragma once

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void crisp_freep(void *p)
{
    free(*(void **)p);
}

static inline void crisp_closep(const int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

static inline void crisp_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static inline void crisp_closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

static inline void crisp_json_decrefp(json_t **j)
{
    json_decref(*j);
}

#define _cleanup_free_     __attribute__((cleanup(crisp_freep)))
#define _cleanup_close_    __attribute__((cleanup(crisp_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(crisp_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(crisp_closedirp)))
#define _cleanup_json_     __attribute__((cleanup(crisp_json_decrefp)))

/* Returns the pointer and leaves NULL behind: hands ownership to the caller. */
#define crisp_steal_ptr(p)                                                                         \
    ({                                                                                             \
        __typeof__(p) stolen_ = (p);                                                               \
        (p) = NULL;                                                                                \
        stolen_;                                                                                   \
    })

/* Returns the fd and leaves -1 behind. */
static inline int crisp_steal_fd_impl(int *fd)
{
    int out = *fd;
    *fd = -1;
    return out;
}
#define crisp_steal_fd(fd) crisp_steal_fd_impl(&(fd))
