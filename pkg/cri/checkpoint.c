/* CheckpointContainer. crisp has no checkpointing: the only candidate is
 * CRIU, and Debian 12's criu (3.17.1) cannot even initialise on the kernels
 * crisp was tested on (`criu check`: "vdso: Unexpected rt vDSO area bounds",
 * kernel 6.18). The request is still validated, so a bad id is NOT_FOUND. */
#define _GNU_SOURCE
#include <errno.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/require.h"
#include "cri/runtime.h"

CRI_UNARY(cri_checkpoint_container)
{
    (void)resp;
    const Runtime__V1__CheckpointContainerRequest *in =
        crisp_req(Runtime__V1__CheckpointContainerRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    if (cri_require("CheckpointContainer", "container_id", in->container_id, err) < 0)
        return -EINVAL;
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(&rt->ctrs, in->container_id, &c, err);
    if (r < 0)
        return r;
    crisp_ctr_put(&rt->ctrs, c);
    return crisp_errorf(err, GRPC_STATUS_UNIMPLEMENTED, ENOTSUP,
                        "CheckpointContainer: crisp does not checkpoint containers: it would need "
                        "CRIU, and Debian 12's criu 3.17.1 fails `criu check` on current kernels "
                        "(vdso: Unexpected rt vDSO area bounds)");
}
