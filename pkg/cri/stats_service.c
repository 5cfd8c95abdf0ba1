/* Stats RPCs: ContainerStats, ListContainerStats, StreamContainerStats,
 * PodSandboxStats, ListPodSandboxStats, StreamPodSandboxStats. Values come
 * from pkg/stats; this file turns them into CRI messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/require.h"
#include "cri/runtime.h"
#include "cri/stats_msg.h"
#include "cri/status.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/mem.h"

static bool ctr_filter_match(const struct crisp_ctr *c, const Runtime__V1__ContainerStatsFilter *f)
{
    if (!f)
        return true;
    if (f->id && *f->id && strncmp(c->id, f->id, strlen(f->id)) != 0)
        return false;
    if (f->pod_sandbox_id && *f->pod_sandbox_id &&
        strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)) != 0)
        return false;
    return crisp_map_matches((void *const *)c->config->labels, c->config->n_labels,
                             (void *const *)f->label_selector, f->n_label_selector);
}

/* The stats of the matching containers (of one pod when pod_id is set). */
static Runtime__V1__ContainerStats **ctr_stats_matching(struct crisp_runtime *rt,
                                                        struct crisp_arena *a, const char *pod_id,
                                                        const Runtime__V1__ContainerStatsFilter *f,
                                                        size_t *n, uint64_t *pids)
{
    struct crisp_ctr **ctrs;
    size_t total;
    crisp_ctr_store_list(&rt->ctrs, pod_id, &ctrs, &total);
    Runtime__V1__ContainerStats **out =
        crisp_arena_array(a, Runtime__V1__ContainerStats *, total + 1);
    *n = 0;
    for (size_t i = 0; i < total; i++) {
        if (ctr_filter_match(ctrs[i], f))
            out[(*n)++] = cri_container_stats(rt, a, ctrs[i], pids);
        crisp_ctr_put(&rt->ctrs, ctrs[i]);
    }
    free(ctrs);
    return out;
}

CRI_UNARY(cri_container_stats_rpc)
{
    const Runtime__V1__ContainerStatsRequest *in =
        crisp_req(Runtime__V1__ContainerStatsRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    if (cri_require("ContainerStats", "container_id", in->container_id, err) < 0)
        return -EINVAL;
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(&rt->ctrs, in->container_id, &c, err);
    if (r < 0)
        return r;
    Runtime__V1__ContainerStatsResponse *out = crisp_msg_new(
        a, Runtime__V1__ContainerStatsResponse, RUNTIME__V1__CONTAINER_STATS_RESPONSE__INIT);
    out->stats = cri_container_stats(rt, a, c, NULL);
    crisp_ctr_put(&rt->ctrs, c);
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_list_container_stats)
{
    (void)err;
    const Runtime__V1__ListContainerStatsRequest *in =
        crisp_req(Runtime__V1__ListContainerStatsRequest, req);
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__ListContainerStatsResponse *out =
        crisp_msg_new(a, Runtime__V1__ListContainerStatsResponse,
                      RUNTIME__V1__LIST_CONTAINER_STATS_RESPONSE__INIT);
    out->stats = ctr_stats_matching(crisp_call_app(call), a, NULL, in->filter, &out->n_stats, NULL);
    *resp = &out->base;
    return 0;
}

int cri_stream_container_stats(struct crisp_call *call, const ProtobufCMessage *req,
                               struct crisp_err *err)
{
    const Runtime__V1__StreamContainerStatsRequest *in =
        crisp_req(Runtime__V1__StreamContainerStatsRequest, req);
    size_t n;
    Runtime__V1__ContainerStats **items = ctr_stats_matching(
        crisp_call_app(call), crisp_call_arena(call), NULL, in->filter, &n, NULL);
    return crisp_send_chunked(call, &runtime__v1__stream_container_stats_response__descriptor,
                              items, n, err);
}

static Runtime__V1__PodSandboxStats *pod_stats(struct crisp_runtime *rt, struct crisp_arena *a,
                                               struct crisp_pod *pod)
{
    size_t n;
    uint64_t pids = 0;
    Runtime__V1__ContainerStats **ctrs = ctr_stats_matching(rt, a, pod->id, NULL, &n, &pids);
    return cri_pod_stats(a, pod, ctrs, n, pids);
}

static bool pod_filter_match(const struct crisp_pod *pod,
                             const Runtime__V1__PodSandboxStatsFilter *f)
{
    if (!f)
        return true;
    if (f->id && *f->id && strncmp(pod->id, f->id, strlen(f->id)) != 0)
        return false;
    return crisp_map_matches((void *const *)pod->config->labels, pod->config->n_labels,
                             (void *const *)f->label_selector, f->n_label_selector);
}

Runtime__V1__PodSandboxStats **cri_pod_stats_list(struct crisp_runtime *rt, struct crisp_arena *a,
                                                  const Runtime__V1__PodSandboxStatsFilter *f,
                                                  size_t *n)
{
    struct crisp_pod **pods;
    size_t total;
    crisp_pod_store_list(&rt->pods, &pods, &total);
    Runtime__V1__PodSandboxStats **out =
        crisp_arena_array(a, Runtime__V1__PodSandboxStats *, total + 1);
    *n = 0;
    for (size_t i = 0; i < total; i++) {
        if (pod_filter_match(pods[i], f))
            out[(*n)++] = pod_stats(rt, a, pods[i]);
        crisp_pod_put(&rt->pods, pods[i]);
    }
    free(pods);
    return out;
}

CRI_UNARY(cri_pod_sandbox_stats)
{
    const Runtime__V1__PodSandboxStatsRequest *in =
        crisp_req(Runtime__V1__PodSandboxStatsRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    if (cri_require("PodSandboxStats", "pod_sandbox_id", in->pod_sandbox_id, err) < 0)
        return -EINVAL;
    struct crisp_pod *pod;
    int r = crisp_pod_store_get(&rt->pods, in->pod_sandbox_id, &pod, err);
    if (r < 0)
        return r;
    Runtime__V1__PodSandboxStatsResponse *out = crisp_msg_new(
        a, Runtime__V1__PodSandboxStatsResponse, RUNTIME__V1__POD_SANDBOX_STATS_RESPONSE__INIT);
    out->stats = pod_stats(rt, a, pod);
    crisp_pod_put(&rt->pods, pod);
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_list_pod_sandbox_stats)
{
    (void)err;
    const Runtime__V1__ListPodSandboxStatsRequest *in =
        crisp_req(Runtime__V1__ListPodSandboxStatsRequest, req);
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__ListPodSandboxStatsResponse *out =
        crisp_msg_new(a, Runtime__V1__ListPodSandboxStatsResponse,
                      RUNTIME__V1__LIST_POD_SANDBOX_STATS_RESPONSE__INIT);
    out->stats = cri_pod_stats_list(crisp_call_app(call), a, in->filter, &out->n_stats);
    *resp = &out->base;
    return 0;
}

int cri_stream_pod_sandbox_stats(struct crisp_call *call, const ProtobufCMessage *req,
                                 struct crisp_err *err)
{
    const Runtime__V1__StreamPodSandboxStatsRequest *in =
        crisp_req(Runtime__V1__StreamPodSandboxStatsRequest, req);
    size_t n;
    Runtime__V1__PodSandboxStats **items =
        cri_pod_stats_list(crisp_call_app(call), crisp_call_arena(call), in->filter, &n);
    return crisp_send_chunked(call, &runtime__v1__stream_pod_sandbox_stats_response__descriptor,
                              items, n, err);
}
