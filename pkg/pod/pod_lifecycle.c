#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>

#include "events/events.h"
#include "image/blobstore.h"
#include "pod/pod.h"
#include "pod/pod_files.h"
#include "pod/pod_net.h"
#include "pod/pod_ns.h"
#include "pod/pod_persist.h"
#include "pod/pod_pidns.h"
#include "pod/pod_shm.h"
#include "pod/pod_sysctl.h"
#include "util/ids.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

static bool same_name(const Runtime__V1__PodSandboxMetadata *a,
                      const Runtime__V1__PodSandboxMetadata *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->namespace_, b->namespace_) == 0 &&
           strcmp(a->uid, b->uid) == 0 && a->attempt == b->attempt;
}

static int validate(const Runtime__V1__PodSandboxConfig *config, const char *handler,
                    struct crisp_err *err)
{
    const Runtime__V1__PodSandboxMetadata *m = config ? config->metadata : NULL;
    if (!m || !*m->name || !*m->uid || !*m->namespace_)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "RunPodSandbox: config.metadata with name, uid and namespace is "
                            "required");
    if (*handler)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "RunPodSandbox: unknown runtime_handler \"%s\": crisp has only the "
                            "default handler \"\"",
                            handler);
    const Runtime__V1__LinuxPodSandboxConfig *l = config->linux;
    const Runtime__V1__NamespaceOption *o =
        l && l->security_context ? l->security_context->namespace_options : NULL;
    if (o && o->pid == RUNTIME__V1__NAMESPACE_MODE__TARGET)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "RunPodSandbox: PID namespace mode TARGET is valid for containers "
                            "only; a pod takes POD, CONTAINER or NODE");
    if (o && (o->network == RUNTIME__V1__NAMESPACE_MODE__TARGET ||
              o->ipc == RUNTIME__V1__NAMESPACE_MODE__TARGET))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "RunPodSandbox: namespace mode TARGET is valid for pid only");
    bool host_net = o && o->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
    bool host_ipc = o && o->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    int r = crisp_pod_sysctls_validate(config, host_net, host_ipc, err);
    return r < 0 ? r : crisp_pod_files_validate(config, err);
}

/* Reserves the pod's name and id: a CREATING entry no lookup returns. */
static int reserve(struct crisp_pod_store *ps, const Runtime__V1__PodSandboxConfig *config,
                   struct crisp_pod **out, struct crisp_err *err)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n_pods; i++) {
        if (same_name(ps->pods[i]->config->metadata, config->metadata)) {
            char id[CRISP_ID_LEN + 1];
            memcpy(id, ps->pods[i]->id, sizeof(id));
            pthread_mutex_unlock(&ps->lock);
            return crisp_errorf(err, GRPC_STATUS_ALREADY_EXISTS, EEXIST,
                                "pod sandbox name %s_%s_%s_%u is reserved by %s",
                                config->metadata->name, config->metadata->namespace_,
                                config->metadata->uid, config->metadata->attempt, id);
        }
    }
    char id[CRISP_ID_LEN + 1];
    crisp_random_id(id);
    struct crisp_pod *pod = crisp_pod_new(ps->dir, id);
    size_t len = protobuf_c_message_get_packed_size(&config->base);
    _cleanup_free_ uint8_t *buf = crisp_xmalloc(len ? len : 1);
    protobuf_c_message_pack(&config->base, buf);
    pod->config = (Runtime__V1__PodSandboxConfig *)protobuf_c_message_unpack(
        &runtime__v1__pod_sandbox_config__descriptor, NULL, len, buf);
    pod->state = CRISP_POD_CREATING;
    ps->pods = crisp_xrealloc(ps->pods, (ps->n_pods + 1) * sizeof(*ps->pods));
    ps->pods[ps->n_pods++] = pod;
    pod->refs = 2; /* the table's and the caller's */
    pthread_mutex_unlock(&ps->lock);
    *out = pod;
    return 0;
}

/* Drops a pod from the table (and the table's reference). */
static void unlist(struct crisp_pod_store *ps, struct crisp_pod *pod)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < ps->n_pods; i++) {
        if (ps->pods[i] == pod) {
            ps->pods[i] = ps->pods[--ps->n_pods];
            pod->refs--;
            break;
        }
    }
    pthread_mutex_unlock(&ps->lock);
}

/* Namespaces, files, and the READY state, each persisted before the next. The CNI ADD's first
 * plugin is started before the namespaces are made: its start-up (exec, the Go runtime) and
 * theirs overlap. */
static int create(struct crisp_pod_store *ps, struct crisp_pod *pod, struct crisp_err *err)
{
    int r = crisp_mkdir_p(pod->dir, 0711, err);
    if (r == 0)
        r = crisp_pod_save_config(pod, err);
    if (r == 0)
        r = crisp_pod_save_state(pod, err);
    struct crisp_network_add *add = NULL;
    if (r == 0)
        r = crisp_pod_net_begin(ps, pod, &add, err);
    bool host_net = crisp_pod_ns_mode(pod, 'n') == RUNTIME__V1__NAMESPACE_MODE__NODE;
    bool host_ipc = crisp_pod_ns_mode(pod, 'i') == RUNTIME__V1__NAMESPACE_MODE__NODE;
    _cleanup_free_ char *ns_dir = crisp_xasprintf("%s/ns", pod->dir);
    struct crisp_pod_ns_request req = {.dir = ns_dir,
                                       .net = !host_net,
                                       .ipc = !host_ipc,
                                       .uts = !host_net,
                                       .hostname = pod->hostname};
    if (r == 0 && (req.net || req.ipc))
        r = crisp_pod_ns_create(&req, err);
    if (r == 0)
        r = crisp_pod_sysctls_apply(pod->config, ns_dir, host_net, host_ipc, err);
    if (r == 0 && !host_ipc)
        r = crisp_pod_shm_create(pod->dir, err);
    _cleanup_free_ char *ip = NULL;
    if (r == 0)
        r = crisp_pod_net_finish(ps, add, &ip, err); /* into the pinned netns */
    else
        crisp_pod_net_cancel(ps, add);
    if (r == 0)
        r = crisp_pod_files_write(pod->dir, pod->config, pod->hostname, host_net, ip, err);
    if (r == 0 && crisp_pod_ns_mode(pod, 'p') == RUNTIME__V1__NAMESPACE_MODE__POD)
        r = crisp_pod_pidns_up(ps, pod, err);
    if (r == 0) {
        pthread_mutex_lock(&pod->lock);
        pod->state = CRISP_POD_READY;
        r = crisp_pod_save_state(pod, err);
        pthread_mutex_unlock(&pod->lock);
    }
    return r;
}

static void destroy_files(struct crisp_pod_store *ps, struct crisp_pod *pod)
{
    struct crisp_err err;
    if (crisp_pod_pidns_down(ps, pod, &err) < 0)
        log_warn("pod", "%s: %s", pod->id, err.msg);
    crisp_pod_net_down(ps, pod); /* before the netns goes, so plugins can clean inside it */
    _cleanup_free_ char *ns_dir = crisp_xasprintf("%s/ns", pod->dir);
    if (crisp_pod_ns_remove(ns_dir, &err) < 0)
        log_warn("pod", "%s: %s", pod->id, err.msg);
    if (crisp_pod_shm_remove(pod->dir, &err) < 0)
        log_warn("pod", "%s: %s", pod->id, err.msg);
    crisp_remove_tree(pod->dir);
}

/* The pod's host name: the kubelet's, else the node's as containerd does (the pod's name
 * may be longer than a host name can be). */
static int pod_hostname(const Runtime__V1__PodSandboxConfig *config, char **out,
                        struct crisp_err *err)
{
    if (*config->hostname) {
        *out = crisp_xstrdup(config->hostname);
        return 0;
    }
    char node[HOST_NAME_MAX + 1];
    if (gethostname(node, sizeof(node)) < 0)
        return crisp_syserrf(err, errno, "gethostname");
    node[HOST_NAME_MAX] = '\0';
    *out = crisp_xstrdup(node);
    return 0;
}

int crisp_pod_run(struct crisp_pod_store *ps, const Runtime__V1__PodSandboxConfig *config,
                  const char *runtime_handler, char id_out[CRISP_ID_LEN + 1], struct crisp_err *err)
{
    int r = validate(config, runtime_handler, err);
    struct crisp_pod *pod = NULL;
    if (r == 0)
        r = reserve(ps, config, &pod, err);
    if (r < 0)
        return r;
    pod->runtime_handler = crisp_xstrdup(runtime_handler);
    pod->created_at = crisp_now_ns();
    r = pod_hostname(config, &pod->hostname, err);
    if (r == 0)
        r = create(ps, pod, err);
    if (r < 0) { /* undo, and free the name for a retry */
        destroy_files(ps, pod);
        unlist(ps, pod);
    } else {
        memcpy(id_out, pod->id, CRISP_ID_LEN + 1);
        log_info("pod", "%s: ready (%s/%s)", pod->id, config->metadata->namespace_,
                 config->metadata->name);
        crisp_event_pod(CRISP_EVENT_CREATED, pod->id);
        crisp_event_pod(CRISP_EVENT_STARTED, pod->id);
    }
    crisp_pod_put(ps, pod);
    return r;
}

int crisp_pod_stop(struct crisp_pod_store *ps, const char *id, struct crisp_err *err)
{
    struct crisp_pod *pod;
    if (crisp_pod_store_get(ps, id, &pod, err) < 0) {
        crisp_err_clear(err);
        return 0; /* stopping what does not exist is done */
    }
    crisp_pod_net_down(ps, pod); /* CNI DEL; a failure is logged, Stop still succeeds */
    pthread_mutex_lock(&pod->lock);
    bool had_infra = pod->infra_pid > 0;
    int r = crisp_pod_pidns_down(ps, pod, err);
    if (r == 0 && (pod->state != CRISP_POD_NOTREADY || had_infra)) {
        pod->state = CRISP_POD_NOTREADY;
        r = crisp_pod_save_state(pod, err);
        log_info("pod", "%s: stopped", pod->id);
        crisp_event_pod(CRISP_EVENT_STOPPED, pod->id);
    }
    pthread_mutex_unlock(&pod->lock);
    crisp_pod_put(ps, pod);
    return r;
}

int crisp_pod_remove(struct crisp_pod_store *ps, const char *id, struct crisp_err *err)
{
    struct crisp_pod *pod;
    if (crisp_pod_store_get(ps, id, &pod, err) < 0) {
        crisp_err_clear(err);
        return 0;
    }
    int r = crisp_pod_stop(ps, pod->id, err);
    if (r == 0) {
        unlist(ps, pod);
        destroy_files(ps, pod);
        log_info("pod", "%s: removed", pod->id);
        crisp_event_pod(CRISP_EVENT_DELETED, pod->id);
    }
    crisp_pod_put(ps, pod);
    return r;
}
