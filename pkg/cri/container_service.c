/* Container RPCs: CreateContainer, StartContainer, StopContainer,
 * RemoveContainer, ContainerStatus, ListContainers, StreamContainers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container/exec_sync.h"
#include "container/lifecycle.h"
#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/require.h"
#include "cri/runtime.h"
#include "cri/status.h"
#include "util/cleanup.h"
#include "util/mem.h"

CRI_UNARY(cri_create_container)
{
    const Runtime__V1__CreateContainerRequest *in =
        crisp_req(Runtime__V1__CreateContainerRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("CreateContainer", "pod_sandbox_id", in->pod_sandbox_id, err);
    char id[CRISP_CTR_ID_LEN + 1];
    if (r == 0)
        r = crisp_ctr_create(&rt->ctr_env, in->pod_sandbox_id, in->config, in->sandbox_config, id,
                             err);
    if (r < 0)
        return r;
    Runtime__V1__CreateContainerResponse *out =
        crisp_msg_new(crisp_call_arena(call), Runtime__V1__CreateContainerResponse,
                      RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT);
    out->container_id = crisp_arena_strdup(crisp_call_arena(call), id);
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_start_container)
{
    const Runtime__V1__StartContainerRequest *in =
        crisp_req(Runtime__V1__StartContainerRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("StartContainer", "container_id", in->container_id, err);
    if (r == 0)
        r = crisp_ctr_start(&rt->ctr_env, in->container_id, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__StartContainerResponse,
                                              RUNTIME__V1__START_CONTAINER_RESPONSE__INIT);
    return 0;
}

CRI_UNARY(cri_stop_container)
{
    const Runtime__V1__StopContainerRequest *in = crisp_req(Runtime__V1__StopContainerRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("StopContainer", "container_id", in->container_id, err);
    if (r == 0)
        r = crisp_ctr_stop(&rt->ctr_env, in->container_id, in->timeout, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__StopContainerResponse,
                                              RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT);
    return 0;
}

CRI_UNARY(cri_remove_container)
{
    const Runtime__V1__RemoveContainerRequest *in =
        crisp_req(Runtime__V1__RemoveContainerRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("RemoveContainer", "container_id", in->container_id, err);
    if (r == 0)
        r = crisp_ctr_remove(&rt->ctr_env, in->container_id, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__RemoveContainerResponse,
                                              RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT);
    return 0;
}

static Runtime__V1__ContainerState state_of(const struct crisp_ctr *c)
{
    switch (c->state) {
    case CRISP_CTR_CREATED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    case CRISP_CTR_RUNNING:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    case CRISP_CTR_EXITED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    default:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
    }
}

static const char *reason_of(const struct crisp_ctr *c)
{
    if (c->state != CRISP_CTR_EXITED)
        return "";
    if (c->oom_killed)
        return "OOMKilled";
    if (c->message && *c->message)
        return "StartError";
    return c->exit_code == 0 ? "Completed" : "Error";
}

Runtime__V1__ContainerMetadata *cri_container_metadata(struct crisp_arena *a,
                                                       const Runtime__V1__ContainerMetadata *m)
{
    Runtime__V1__ContainerMetadata *out =
        crisp_msg_new(a, Runtime__V1__ContainerMetadata, RUNTIME__V1__CONTAINER_METADATA__INIT);
    out->name = crisp_arena_strdup(a, m->name);
    out->attempt = m->attempt;
    return out;
}

static Runtime__V1__ImageSpec *image_spec(struct crisp_arena *a, const char *image)
{
    Runtime__V1__ImageSpec *s =
        crisp_msg_new(a, Runtime__V1__ImageSpec, RUNTIME__V1__IMAGE_SPEC__INIT);
    s->image = crisp_arena_strdup(a, image);
    return s;
}

static Runtime__V1__Mount **mounts_copy(struct crisp_arena *a,
                                        const Runtime__V1__ContainerConfig *cfg)
{
    Runtime__V1__Mount **out = crisp_arena_array(a, Runtime__V1__Mount *, cfg->n_mounts + 1);
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        out[i] = crisp_msg_new(a, Runtime__V1__Mount, RUNTIME__V1__MOUNT__INIT);
        out[i]->container_path = crisp_arena_strdup(a, cfg->mounts[i]->container_path);
        out[i]->host_path = crisp_arena_strdup(a, cfg->mounts[i]->host_path);
        out[i]->readonly = cfg->mounts[i]->readonly;
        out[i]->propagation = cfg->mounts[i]->propagation;
    }
    return out;
}

/* The ids the process runs with (CRI ContainerStatus.user). */
static Runtime__V1__ContainerUser *container_user(struct crisp_arena *a, const struct crisp_ctr *c)
{
    Runtime__V1__ContainerUser *u =
        crisp_msg_new(a, Runtime__V1__ContainerUser, RUNTIME__V1__CONTAINER_USER__INIT);
    u->linux =
        crisp_msg_new(a, Runtime__V1__LinuxContainerUser, RUNTIME__V1__LINUX_CONTAINER_USER__INIT);
    u->linux->uid = c->uid;
    u->linux->gid = c->gid;
    u->linux->n_supplemental_groups = c->n_groups;
    u->linux->supplemental_groups = crisp_arena_array(a, int64_t, c->n_groups + 1);
    for (size_t i = 0; i < c->n_groups; i++)
        u->linux->supplemental_groups[i] = c->groups[i];
    return u;
}

Runtime__V1__ContainerStatus *cri_container_status_locked(struct crisp_arena *a,
                                                          struct crisp_ctr *c)
{
    const Runtime__V1__ContainerConfig *cfg = c->config;
    Runtime__V1__ContainerStatus *st =
        crisp_msg_new(a, Runtime__V1__ContainerStatus, RUNTIME__V1__CONTAINER_STATUS__INIT);
    st->id = crisp_arena_strdup(a, c->id);
    st->metadata = cri_container_metadata(a, cfg->metadata);
    st->state = state_of(c);
    st->created_at = c->created_at;
    st->started_at = c->started_at;
    st->finished_at = c->finished_at;
    st->exit_code = c->exit_code;
    st->image = image_spec(a, c->image_ref);
    st->image_ref = crisp_arena_strdup(a, c->image_id);
    st->image_id = crisp_arena_strdup(a, c->image_id);
    st->reason = crisp_arena_strdup(a, reason_of(c));
    st->message = crisp_arena_strdup(a, c->message ? c->message : "");
    st->n_labels = cfg->n_labels;
    st->labels = crisp_msg_copy_map(a, &runtime__v1__container_status__labels_entry__descriptor,
                                    (void *const *)cfg->labels, cfg->n_labels);
    st->n_annotations = cfg->n_annotations;
    st->annotations =
        crisp_msg_copy_map(a, &runtime__v1__container_status__annotations_entry__descriptor,
                           (void *const *)cfg->annotations, cfg->n_annotations);
    st->n_mounts = cfg->n_mounts;
    st->mounts = mounts_copy(a, cfg);
    st->log_path = crisp_arena_strdup(a, c->log_path);
    if (cfg->linux && cfg->linux->resources) {
        st->resources = crisp_msg_new(a, Runtime__V1__ContainerResources,
                                      RUNTIME__V1__CONTAINER_RESOURCES__INIT);
        st->resources->linux = crisp_msg_clone(a, &cfg->linux->resources->base);
    }
    st->user = container_user(a, c);
    return st;
}

CRI_UNARY(cri_container_status)
{
    const Runtime__V1__ContainerStatusRequest *in =
        crisp_req(Runtime__V1__ContainerStatusRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    struct crisp_ctr *c;
    int r = cri_require("ContainerStatus", "container_id", in->container_id, err);
    if (r == 0)
        r = crisp_ctr_store_get(&rt->ctrs, in->container_id, &c, err);
    if (r < 0)
        return r;
    Runtime__V1__ContainerStatusResponse *out = crisp_msg_new(
        a, Runtime__V1__ContainerStatusResponse, RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT);
    pthread_mutex_lock(&c->lock);
    crisp_ctr_refresh_locked(c);
    out->status = cri_container_status_locked(a, c);
    if (in->verbose) {
        Runtime__V1__ContainerStatusResponse__InfoEntry *e =
            crisp_msg_new(a, Runtime__V1__ContainerStatusResponse__InfoEntry,
                          RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT);
        e->key = "info";
        e->value = crisp_arena_printf(a,
                                      "{\"pid\":%d,\"sandboxID\":\"%s\",\"cgroup\":\"%s\","
                                      "\"stopSignal\":%d}",
                                      (int)c->pid, c->pod_id, c->cgroup, c->stop_signal);
        out->n_info = 1;
        out->info = crisp_arena_array(a, Runtime__V1__ContainerStatusResponse__InfoEntry *, 1);
        out->info[0] = e;
    }
    pthread_mutex_unlock(&c->lock);
    crisp_ctr_put(&rt->ctrs, c);
    *resp = &out->base;
    return 0;
}

/* Caller holds c->lock. */
static bool filter_match(const struct crisp_ctr *c, const Runtime__V1__ContainerFilter *f)
{
    if (!f)
        return true;
    if (f->id && *f->id && strncmp(c->id, f->id, strlen(f->id)) != 0)
        return false;
    if (f->pod_sandbox_id && *f->pod_sandbox_id &&
        strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)) != 0)
        return false;
    if (f->state && state_of(c) != f->state->state)
        return false;
    return crisp_map_matches((void *const *)c->config->labels, c->config->n_labels,
                             (void *const *)f->label_selector, f->n_label_selector);
}

static Runtime__V1__Container *list_item(struct crisp_arena *a, const struct crisp_ctr *c)
{
    const Runtime__V1__ContainerConfig *cfg = c->config;
    Runtime__V1__Container *item =
        crisp_msg_new(a, Runtime__V1__Container, RUNTIME__V1__CONTAINER__INIT);
    item->id = crisp_arena_strdup(a, c->id);
    item->pod_sandbox_id = crisp_arena_strdup(a, c->pod_id);
    item->metadata = cri_container_metadata(a, cfg->metadata);
    item->image = image_spec(a, c->image_ref);
    item->image_ref = crisp_arena_strdup(a, c->image_id);
    item->image_id = crisp_arena_strdup(a, c->image_id);
    item->state = state_of(c);
    item->created_at = c->created_at;
    item->n_labels = cfg->n_labels;
    item->labels = crisp_msg_copy_map(a, &runtime__v1__container__labels_entry__descriptor,
                                      (void *const *)cfg->labels, cfg->n_labels);
    item->n_annotations = cfg->n_annotations;
    item->annotations =
        crisp_msg_copy_map(a, &runtime__v1__container__annotations_entry__descriptor,
                           (void *const *)cfg->annotations, cfg->n_annotations);
    return item;
}

static Runtime__V1__Container **matching(struct crisp_runtime *rt, struct crisp_arena *a,
                                         const Runtime__V1__ContainerFilter *f, size_t *n)
{
    struct crisp_ctr **ctrs;
    size_t total;
    crisp_ctr_store_list(&rt->ctrs, NULL, &ctrs, &total);
    Runtime__V1__Container **items = crisp_arena_array(a, Runtime__V1__Container *, total + 1);
    *n = 0;
    for (size_t i = 0; i < total; i++) {
        pthread_mutex_lock(&ctrs[i]->lock);
        crisp_ctr_refresh_locked(ctrs[i]);
        if (filter_match(ctrs[i], f))
            items[(*n)++] = list_item(a, ctrs[i]);
        pthread_mutex_unlock(&ctrs[i]->lock);
        crisp_ctr_put(&rt->ctrs, ctrs[i]);
    }
    free(ctrs);
    return items;
}

CRI_UNARY(cri_list_containers)
{
    (void)err;
    const Runtime__V1__ListContainersRequest *in =
        crisp_req(Runtime__V1__ListContainersRequest, req);
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__ListContainersResponse *out = crisp_msg_new(
        a, Runtime__V1__ListContainersResponse, RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT);
    out->containers = matching(crisp_call_app(call), a, in->filter, &out->n_containers);
    *resp = &out->base;
    return 0;
}

int cri_stream_containers(struct crisp_call *call, const ProtobufCMessage *req,
                          struct crisp_err *err)
{
    const Runtime__V1__StreamContainersRequest *in =
        crisp_req(Runtime__V1__StreamContainersRequest, req);
    size_t n;
    Runtime__V1__Container **items =
        matching(crisp_call_app(call), crisp_call_arena(call), in->filter, &n);
    return crisp_send_chunked(call, &runtime__v1__stream_containers_response__descriptor, items, n,
                              err);
}

Runtime__V1__ContainerStatus **cri_pod_container_statuses(struct crisp_runtime *rt,
                                                          struct crisp_arena *a, const char *pod_id,
                                                          size_t *n)
{
    struct crisp_ctr **ctrs;
    crisp_ctr_store_list(&rt->ctrs, pod_id, &ctrs, n);
    Runtime__V1__ContainerStatus **out =
        crisp_arena_array(a, Runtime__V1__ContainerStatus *, *n + 1);
    for (size_t i = 0; i < *n; i++) {
        pthread_mutex_lock(&ctrs[i]->lock);
        crisp_ctr_refresh_locked(ctrs[i]);
        out[i] = cri_container_status_locked(a, ctrs[i]);
        pthread_mutex_unlock(&ctrs[i]->lock);
        crisp_ctr_put(&rt->ctrs, ctrs[i]);
    }
    free(ctrs);
    return out;
}

/* The containers of a pod, stopped (StopPodSandbox) or removed (RemovePodSandbox). */
int cri_pod_containers_down(struct crisp_runtime *rt, const char *pod_id, bool remove,
                            struct crisp_err *err)
{
    struct crisp_pod *pod;
    if (crisp_pod_store_get(&rt->pods, pod_id, &pod, err) < 0) {
        crisp_err_clear(err); /* nothing to stop: the pod call decides */
        return 0;
    }
    struct crisp_ctr **ctrs;
    size_t n;
    crisp_ctr_store_list(&rt->ctrs, pod->id, &ctrs, &n);
    crisp_pod_put(&rt->pods, pod);
    int result = 0;
    for (size_t i = 0; i < n; i++) {
        int r = remove ? crisp_ctr_remove(&rt->ctr_env, ctrs[i]->id, err)
                       : crisp_ctr_stop(&rt->ctr_env, ctrs[i]->id, 0, err);
        if (r < 0 && result == 0)
            result = r;
        crisp_ctr_put(&rt->ctrs, ctrs[i]);
    }
    free(ctrs);
    return result;
}

CRI_UNARY(cri_exec_sync)
{
    const Runtime__V1__ExecSyncRequest *in = crisp_req(Runtime__V1__ExecSyncRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    int r = cri_require("ExecSync", "container_id", in->container_id, err);
    if (r == 0 && (in->n_cmd == 0 || !*in->cmd[0]))
        r = crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                         "ExecSync: cmd is required: the command and its arguments");
    if (r < 0)
        return r;
    char **argv = crisp_arena_array(a, char *, in->n_cmd + 1);
    for (size_t i = 0; i < in->n_cmd; i++)
        argv[i] = in->cmd[i];
    struct crisp_exec_output o;
    r = crisp_ctr_exec_sync(&rt->ctr_env, in->container_id, argv, in->timeout, &o, err);
    if (r < 0)
        return r;
    Runtime__V1__ExecSyncResponse *out =
        crisp_msg_new(a, Runtime__V1__ExecSyncResponse, RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT);
    out->stdout.len = o.out_len;
    out->stdout.data = crisp_arena_alloc(a, o.out_len + 1);
    memcpy(out->stdout.data, o.out ? o.out : "", o.out_len);
    out->stderr.len = o.err_len;
    out->stderr.data = crisp_arena_alloc(a, o.err_len + 1);
    memcpy(out->stderr.data, o.err ? o.err : "", o.err_len);
    out->exit_code = o.exit_code;
    crisp_exec_output_free(&o);
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_reopen_container_log)
{
    const Runtime__V1__ReopenContainerLogRequest *in =
        crisp_req(Runtime__V1__ReopenContainerLogRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("ReopenContainerLog", "container_id", in->container_id, err);
    if (r == 0)
        r = crisp_ctr_reopen_log(&rt->ctr_env, in->container_id, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__ReopenContainerLogResponse,
                                              RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT);
    return 0;
}
