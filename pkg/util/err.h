/* Error objects: a gRPC status code plus a message with context.
 * Functions return 0 or a negative errno and fill a caller-owned crisp_err,
 * which the gRPC layer turns into a status; it never allocates. */
#pragma once

#include <grpc/status.h>

#define CRISP_ERR_MSG_MAX 1024

struct crisp_err {
    grpc_status_code code;
    char msg[CRISP_ERR_MSG_MAX];
};

/* Sets err (when not NULL) to code + the formatted message and returns
 * -errnum, or -EINVAL when errnum is 0. */
int crisp_errorf(struct crisp_err *err, grpc_status_code code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A failed system call: INTERNAL, the message followed by ": strerror(errnum)". */
int crisp_syserrf(struct crisp_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message, keeping its code. */
void crisp_err_prefix(struct crisp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void crisp_err_clear(struct crisp_err *err);
