#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void err_vset(struct crisp_err *err, grpc_status_code code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int crisp_errorf(struct crisp_err *err, grpc_status_code code, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(err, code, fmt, ap);
        va_end(ap);
    }
    return errnum > 0 ? -errnum : -EINVAL;
}

int crisp_syserrf(struct crisp_err *err, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(err, GRPC_STATUS_INTERNAL, fmt, ap);
        va_end(ap);
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", strerror(errnum));
    }
    return errnum > 0 ? -errnum : -EIO;
}

void crisp_err_prefix(struct crisp_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[CRISP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Shift the old message right and put the prefix in front; truncation
     * drops the end of the old message. */
    size_t plen = strlen(prefix) + 2, olen = strlen(err->msg);
    if (plen >= sizeof(err->msg))
        plen = sizeof(err->msg) - 1;
    if (plen + olen >= sizeof(err->msg))
        olen = sizeof(err->msg) - 1 - plen;
    memmove(err->msg + plen, err->msg, olen);
    err->msg[plen + olen] = '\0';
    memcpy(err->msg, prefix, plen - 2);
    memcpy(err->msg + plen - 2, ": ", 2);
}

void crisp_err_clear(struct crisp_err *err)
{
    err->code = GRPC_STATUS_OK;
    err->msg[0] = '\0';
}
