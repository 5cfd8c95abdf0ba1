/* Pod sandbox RPCs: RunPodSandbox, StopPodSandbox, RemovePodSandbox,
 * PodSandboxStatus, ListPodSandbox, StreamPodSandboxes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/require.h"
#include "cri/runtime.h"
#include "cri/status.h"
#include "pod/pod.h"
#include "util/ids.h"
#include "util/cleanup.h"
#include "util/mem.h"

CRI_UNARY(cri_run_pod_sandbox)
{
    const Runtime__V1__RunPodSandboxRequest *in = crisp_req(Runtime__V1__RunPodSandboxRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    char id[CRISP_ID_LEN + 1];
    int r = crisp_pod_run(&rt->pods, in->config, in->runtime_handler ? in->runtime_handler : "", id,
                          err);
    if (r < 0)
        return r;
    Runtime__V1__RunPodSandboxResponse *out =
        crisp_msg_new(crisp_call_arena(call), Runtime__V1__RunPodSandboxResponse,
                      RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT);
    out->pod_sandbox_id = crisp_arena_strdup(crisp_call_arena(call), id);
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_stop_pod_sandbox)
{
    const Runtime__V1__StopPodSandboxRequest *in =
        crisp_req(Runtime__V1__StopPodSandboxRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("StopPodSandbox", "pod_sandbox_id", in->pod_sandbox_id, err);
    if (r == 0)
        r = cri_pod_containers_down(rt, in->pod_sandbox_id, false, err);
    if (r == 0)
        r = crisp_pod_stop(&rt->pods, in->pod_sandbox_id, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__StopPodSandboxResponse,
                                              RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT);
    return 0;
}

CRI_UNARY(cri_remove_pod_sandbox)
{
    const Runtime__V1__RemovePodSandboxRequest *in =
        crisp_req(Runtime__V1__RemovePodSandboxRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    int r = cri_require("RemovePodSandbox", "pod_sandbox_id", in->pod_sandbox_id, err);
    if (r == 0)
        r = cri_pod_containers_down(rt, in->pod_sandbox_id, true, err);
    if (r == 0)
        r = crisp_pod_remove(&rt->pods, in->pod_sandbox_id, err);
    if (r < 0)
        return r;
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__RemovePodSandboxResponse,
                                              RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT);
    return 0;
}

Runtime__V1__PodSandboxMetadata *cri_pod_metadata(struct crisp_arena *a,
                                                  const Runtime__V1__PodSandboxMetadata *m)
{
    Runtime__V1__PodSandboxMetadata *out =
        crisp_msg_new(a, Runtime__V1__PodSandboxMetadata, RUNTIME__V1__POD_SANDBOX_METADATA__INIT);
    out->name = crisp_arena_strdup(a, m->name);
    out->uid = crisp_arena_strdup(a, m->uid);
    out->namespace_ = crisp_arena_strdup(a, m->namespace_);
    out->attempt = m->attempt;
    return out;
}

static Runtime__V1__PodSandboxState pod_state(struct crisp_pod *pod)
{
    return crisp_pod_state(pod) == CRISP_POD_READY
               ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
               : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
}

static Runtime__V1__LinuxPodSandboxStatus *linux_status(struct crisp_arena *a,
                                                        const struct crisp_pod *pod)
{
    Runtime__V1__LinuxPodSandboxStatus *l = crisp_msg_new(
        a, Runtime__V1__LinuxPodSandboxStatus, RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT);
    l->namespaces = crisp_msg_new(a, Runtime__V1__Namespace, RUNTIME__V1__NAMESPACE__INIT);
    Runtime__V1__NamespaceOption *o =
        crisp_msg_new(a, Runtime__V1__NamespaceOption, RUNTIME__V1__NAMESPACE_OPTION__INIT);
    o->network = crisp_pod_ns_mode(pod, 'n');
    o->pid = crisp_pod_ns_mode(pod, 'p');
    o->ipc = crisp_pod_ns_mode(pod, 'i');
    l->namespaces->options = o;
    return l;
}

/* network.ip and additional_ips from the recorded CNI result (so they
 * survive crispd restarts); empty for hostNetwork and stopped pods. */
static Runtime__V1__PodSandboxNetworkStatus *
network_status(struct crisp_arena *a, struct crisp_runtime *rt, const struct crisp_pod *pod)
{
    Runtime__V1__PodSandboxNetworkStatus *ns = crisp_msg_new(
        a, Runtime__V1__PodSandboxNetworkStatus, RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT);
    size_t n;
    char **ips = crisp_network_pod_ips(&rt->net, pod->id, &n);
    ns->ip = crisp_arena_strdup(a, n ? ips[0] : "");
    ns->n_additional_ips = n > 1 ? n - 1 : 0;
    ns->additional_ips = crisp_arena_array(a, Runtime__V1__PodIP *, ns->n_additional_ips + 1);
    for (size_t i = 1; i < n; i++) {
        Runtime__V1__PodIP *ip = crisp_msg_new(a, Runtime__V1__PodIP, RUNTIME__V1__POD_IP__INIT);
        ip->ip = crisp_arena_strdup(a, ips[i]);
        ns->additional_ips[i - 1] = ip;
    }
    for (size_t i = 0; i < n; i++)
        free(ips[i]);
    free(ips);
    return ns;
}

Runtime__V1__PodSandboxStatus *cri_pod_status(struct crisp_arena *a, struct crisp_runtime *rt,
                                              struct crisp_pod *pod)
{
    const Runtime__V1__PodSandboxConfig *cfg = pod->config;
    Runtime__V1__PodSandboxStatus *st =
        crisp_msg_new(a, Runtime__V1__PodSandboxStatus, RUNTIME__V1__POD_SANDBOX_STATUS__INIT);
    st->id = crisp_arena_strdup(a, pod->id);
    st->metadata = cri_pod_metadata(a, cfg->metadata);
    st->state = pod_state(pod);
    st->created_at = pod->created_at;
    st->network = network_status(a, rt, pod);
    st->linux = linux_status(a, pod);
    st->n_labels = cfg->n_labels;
    st->labels = crisp_msg_copy_map(a, &runtime__v1__pod_sandbox_status__labels_entry__descriptor,
                                    (void *const *)cfg->labels, cfg->n_labels);
    st->n_annotations = cfg->n_annotations;
    st->annotations =
        crisp_msg_copy_map(a, &runtime__v1__pod_sandbox_status__annotations_entry__descriptor,
                           (void *const *)cfg->annotations, cfg->n_annotations);
    st->runtime_handler = crisp_arena_strdup(a, pod->runtime_handler);
    return st;
}

/* For crictl inspectp: the CNI result and a CNI CHECK of the attachment
 * ("ok" or what the plugin said; "" without one). */
static void add_network_info(json_t *info, struct crisp_runtime *rt, const struct crisp_pod *pod)
{
    json_t *result = crisp_network_result(&rt->net, pod->id);
    struct crisp_err err;
    const char *check = "";
    if (result)
        check = crisp_network_check(&rt->net, pod->id, &err) == 0 ? "ok" : err.msg;
    json_object_set_new(info, "cniResult", result ? result : json_null());
    json_object_set_new(info, "cniCheck", json_string(check));
}

static char *verbose_info(struct crisp_runtime *rt, const struct crisp_pod *pod)
{
    _cleanup_json_ json_t *info = json_pack(
        "{s:s, s:s, s:s, s:s, s:s}", "id", pod->id, "hostname", pod->hostname, "dir", pod->dir,
        "cgroupParent",
        pod->config->linux && pod->config->linux->cgroup_parent ? pod->config->linux->cgroup_parent
                                                                : "",
        "logDirectory", pod->config->log_directory ? pod->config->log_directory : "");
    add_network_info(info, rt, pod);
    return json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS);
}

CRI_UNARY(cri_pod_sandbox_status)
{
    const Runtime__V1__PodSandboxStatusRequest *in =
        crisp_req(Runtime__V1__PodSandboxStatusRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    struct crisp_pod *pod;
    int r = cri_require("PodSandboxStatus", "pod_sandbox_id", in->pod_sandbox_id, err);
    if (r == 0)
        r = crisp_pod_store_get(&rt->pods, in->pod_sandbox_id, &pod, err);
    if (r < 0)
        return r;
    Runtime__V1__PodSandboxStatusResponse *out = crisp_msg_new(
        a, Runtime__V1__PodSandboxStatusResponse, RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT);
    out->status = cri_pod_status(a, rt, pod);
    out->timestamp = crisp_now_ns();
    out->containers_statuses =
        cri_pod_container_statuses(rt, a, pod->id, &out->n_containers_statuses);
    if (in->verbose) {
        _cleanup_free_ char *info = verbose_info(rt, pod);
        Runtime__V1__PodSandboxStatusResponse__InfoEntry *e =
            crisp_msg_new(a, Runtime__V1__PodSandboxStatusResponse__InfoEntry,
                          RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INFO_ENTRY__INIT);
        e->key = "info";
        e->value = crisp_arena_strdup(a, info);
        out->n_info = 1;
        out->info = crisp_arena_array(a, Runtime__V1__PodSandboxStatusResponse__InfoEntry *, 1);
        out->info[0] = e;
    }
    crisp_pod_put(&rt->pods, pod);
    *resp = &out->base;
    return 0;
}

static bool filter_match(struct crisp_pod *pod, const Runtime__V1__PodSandboxFilter *f)
{
    if (!f)
        return true;
    if (f->id && *f->id && strncmp(pod->id, f->id, strlen(f->id)) != 0)
        return false;
    if (f->state && pod_state(pod) != f->state->state)
        return false;
    return crisp_map_matches((void *const *)pod->config->labels, pod->config->n_labels,
                             (void *const *)f->label_selector, f->n_label_selector);
}

static Runtime__V1__PodSandbox *list_item(struct crisp_arena *a, struct crisp_pod *pod)
{
    const Runtime__V1__PodSandboxConfig *cfg = pod->config;
    Runtime__V1__PodSandbox *item =
        crisp_msg_new(a, Runtime__V1__PodSandbox, RUNTIME__V1__POD_SANDBOX__INIT);
    item->id = crisp_arena_strdup(a, pod->id);
    item->metadata = cri_pod_metadata(a, cfg->metadata);
    item->state = pod_state(pod);
    item->created_at = pod->created_at;
    item->n_labels = cfg->n_labels;
    item->labels = crisp_msg_copy_map(a, &runtime__v1__pod_sandbox__labels_entry__descriptor,
                                      (void *const *)cfg->labels, cfg->n_labels);
    item->n_annotations = cfg->n_annotations;
    item->annotations =
        crisp_msg_copy_map(a, &runtime__v1__pod_sandbox__annotations_entry__descriptor,
                           (void *const *)cfg->annotations, cfg->n_annotations);
    item->runtime_handler = crisp_arena_strdup(a, pod->runtime_handler);
    return item;
}

/* The matching pods as list items, in creation order. */
static Runtime__V1__PodSandbox **matching(struct crisp_runtime *rt, struct crisp_arena *a,
                                          const Runtime__V1__PodSandboxFilter *f, size_t *n)
{
    struct crisp_pod **pods;
    size_t total;
    crisp_pod_store_list(&rt->pods, &pods, &total);
    Runtime__V1__PodSandbox **items = crisp_arena_array(a, Runtime__V1__PodSandbox *, total + 1);
    *n = 0;
    for (size_t i = 0; i < total; i++) {
        if (filter_match(pods[i], f))
            items[(*n)++] = list_item(a, pods[i]);
        crisp_pod_put(&rt->pods, pods[i]);
    }
    free(pods);
    return items;
}

CRI_UNARY(cri_list_pod_sandbox)
{
    (void)err;
    const Runtime__V1__ListPodSandboxRequest *in =
        crisp_req(Runtime__V1__ListPodSandboxRequest, req);
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__ListPodSandboxResponse *out = crisp_msg_new(
        a, Runtime__V1__ListPodSandboxResponse, RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT);
    out->items = matching(crisp_call_app(call), a, in->filter, &out->n_items);
    *resp = &out->base;
    return 0;
}

int cri_stream_pod_sandboxes(struct crisp_call *call, const ProtobufCMessage *req,
                             struct crisp_err *err)
{
    const Runtime__V1__StreamPodSandboxesRequest *in =
        crisp_req(Runtime__V1__StreamPodSandboxesRequest, req);
    struct crisp_arena *a = crisp_call_arena(call);
    size_t n;
    Runtime__V1__PodSandbox **items = matching(crisp_call_app(call), a, in->filter, &n);
    return crisp_send_chunked(call, &runtime__v1__stream_pod_sandboxes_response__descriptor, items,
                              n, err);
}
