#include "cri/require.h"

#include <errno.h>
#include <grpc/status.h>

int cri_require(const char *method, const char *field, const char *value, struct crisp_err *err)
{
    if (value && *value)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "%s: %s is required", method,
                        field);
}
