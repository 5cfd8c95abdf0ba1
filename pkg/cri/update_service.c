/* UpdateContainerResources and UpdatePodSandboxResources (pkg/container/update_resources.h). */
#define _GNU_SOURCE
#include <errno.h>

#include "container/update_resources.h"
#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/require.h"
#include "cri/runtime.h"

CRI_UNARY(cri_update_container_resources)
{
    const Runtime__V1__UpdateContainerResourcesRequest *in =
        crisp_req(Runtime__V1__UpdateContainerResourcesRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("UpdateContainerResources", "container_id", in->container_id, err);
    if (r == 0)
        r = crisp_ctr_update_resources(&rt->ctr_env, in->container_id, in->linux, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(
        crisp_call_arena(call), Runtime__V1__UpdateContainerResourcesResponse,
        RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_RESPONSE__INIT);
    return 0;
}

CRI_UNARY(cri_update_pod_sandbox_resources)
{
    const Runtime__V1__UpdatePodSandboxResourcesRequest *in =
        crisp_req(Runtime__V1__UpdatePodSandboxResourcesRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("UpdatePodSandboxResources", "pod_sandbox_id", in->pod_sandbox_id, err);
    if (r == 0)
        r = crisp_pod_update_resources(&rt->ctr_env, in->pod_sandbox_id, in->overhead,
                                       in->resources, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(
        crisp_call_arena(call), Runtime__V1__UpdatePodSandboxResourcesResponse,
        RUNTIME__V1__UPDATE_POD_SANDBOX_RESOURCES_RESPONSE__INIT);
    return 0;
}
