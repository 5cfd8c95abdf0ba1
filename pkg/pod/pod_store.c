#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/blobstore.h"
#include "pod/pod.h"
#include "pod/pod_ns.h"
#include "pod/pod_persist.h"
#include "pod/pod_pidns.h"
#include "pod/pod_shm.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

enum crisp_pod_state crisp_pod_state(struct crisp_pod *pod)
{
    pthread_mutex_lock(&pod->lock);
    enum crisp_pod_state s = pod->state;
    pthread_mutex_unlock(&pod->lock);
    return s;
}

int crisp_pod_ns_mode(const struct crisp_pod *pod, char which)
{
    const Runtime__V1__LinuxPodSandboxConfig *l = pod->config->linux;
    const Runtime__V1__NamespaceOption *o =
        l && l->security_context ? l->security_context->namespace_options : NULL;
    if (!o) /* no options at all: pod network and IPC, a PID namespace per container */
        return which == 'p' ? RUNTIME__V1__NAMESPACE_MODE__CONTAINER
                            : RUNTIME__V1__NAMESPACE_MODE__POD;
    return which == 'n' ? o->network : which == 'p' ? o->pid : o->ipc;
}

enum reconciled { POD_KEPT, POD_DROPPED, POD_DROPPED_WITH_CGROUP };

/* A pod whose creation a crash interrupted, or whose namespaces are gone
 * (a reboot empties /run, a hand-made umount): undo or mark not ready. */
static enum reconciled reconcile(struct crisp_pod *pod)
{
    struct crisp_err err;
    _cleanup_free_ char *ns = crisp_xasprintf("%s/ns", pod->dir);
    if (pod->state == CRISP_POD_CREATING) {
        log_warn("pod", "%s: creation was interrupted; removing it", pod->id);
        if (crisp_pod_pidns_down(NULL, pod, &err) < 0)
            log_warn("pod", "%s: %s", pod->id, err.msg);
        crisp_pod_ns_remove(ns, &err);
        crisp_pod_shm_remove(pod->dir, &err);
        crisp_remove_tree(pod->dir);
        /* Its infra cgroup may exist: the cgroup root is not known yet. */
        return crisp_pod_ns_mode(pod, 'p') == RUNTIME__V1__NAMESPACE_MODE__POD
                   ? POD_DROPPED_WITH_CGROUP
                   : POD_DROPPED;
    }
    bool own_net = crisp_pod_ns_mode(pod, 'n') != RUNTIME__V1__NAMESPACE_MODE__NODE;
    const char *gone = own_net && !crisp_pod_ns_pinned(ns, "net") ? "network namespace"
                       : !crisp_pod_pidns_alive(pod)              ? "PID namespace's infra process"
                                                                  : NULL;
    if (pod->state == CRISP_POD_READY && gone) {
        log_warn("pod", "%s: its %s is gone; marking it not ready", pod->id, gone);
        pod->state = CRISP_POD_NOTREADY;
        crisp_pod_save_state(pod, &err);
    }
    return POD_KEPT;
}

static void add_locked(struct crisp_pod_store *ps, struct crisp_pod *pod)
{
    ps->pods = crisp_xrealloc(ps->pods, (ps->n_pods + 1) * sizeof(*ps->pods));
    ps->pods[ps->n_pods++] = pod;
    pod->refs = 1; /* the table's */
}

int crisp_pod_store_init(struct crisp_pod_store *ps, const char *state_dir, struct crisp_err *err)
{
    memset(ps, 0, sizeof(*ps));
    pthread_mutex_init(&ps->lock, NULL);
    ps->dir = crisp_xasprintf("%s/pods", state_dir);
    int r = crisp_mkdir_p(ps->dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_closedir_ DIR *d = opendir(ps->dir);
    if (!d)
        return crisp_syserrf(err, errno, "open %s", ps->dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != CRISP_ID_LEN)
            continue;
        struct crisp_err load_err;
        struct crisp_pod *pod = crisp_pod_load(ps->dir, e->d_name, &load_err);
        if (!pod) {
            log_warn("pod", "skipping %s/%s: %s", ps->dir, e->d_name, load_err.msg);
            continue;
        }
        enum reconciled how = reconcile(pod);
        if (how == POD_KEPT) {
            add_locked(ps, pod);
        } else if (how == POD_DROPPED_WITH_CGROUP) {
            ps->unfinished =
                crisp_xrealloc(ps->unfinished, (ps->n_unfinished + 1) * sizeof(*ps->unfinished));
            ps->unfinished[ps->n_unfinished++] = pod;
        } else {
            crisp_pod_free(pod);
        }
    }
    log_info("pod", "%zu pod sandboxes restored", ps->n_pods);
    return 0;
}

void crisp_pod_store_set_infra(struct crisp_pod_store *ps, const char *monitor_path,
                               const struct crisp_cgroup_root *cgroups, bool systemd_cgroups)
{
    ps->monitor_path = monitor_path;
    ps->cgroups = cgroups;
    ps->systemd_cgroups = systemd_cgroups;
    for (size_t i = 0; i < ps->n_unfinished; i++) {
        struct crisp_err err;
        if (cgroups && crisp_pod_pidns_remove_cgroup(ps, ps->unfinished[i], &err) < 0)
            log_warn("pod", "%s: %s", ps->unfinished[i]->id, err.msg);
        crisp_pod_free(ps->unfinished[i]);
    }
    free(ps->unfinished);
    ps->unfinished = NULL;
    ps->n_unfinished = 0;
}

void crisp_pod_store_free(struct crisp_pod_store *ps)
{
    for (size_t i = 0; i < ps->n_pods; i++)
        crisp_pod_free(ps->pods[i]);
    free(ps->pods);
    for (size_t i = 0; i < ps->n_unfinished; i++)
        crisp_pod_free(ps->unfinished[i]);
    free(ps->unfinished);
    free(ps->dir);
    pthread_mutex_destroy(&ps->lock);
    memset(ps, 0, sizeof(*ps));
}

int crisp_pod_store_get(struct crisp_pod_store *ps, const char *id, struct crisp_pod **out,
                        struct crisp_err *err)
{
    size_t len = strlen(id);
    struct crisp_pod *found = NULL;
    int matches = 0;
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; len > 0 && i < ps->n_pods; i++) {
        if (strncmp(ps->pods[i]->id, id, len) == 0 &&
            crisp_pod_state(ps->pods[i]) != CRISP_POD_CREATING) {
            found = ps->pods[i];
            matches++;
        }
    }
    if (matches == 1)
        found->refs++;
    pthread_mutex_unlock(&ps->lock);
    if (matches == 1) {
        *out = found;
        return 0;
    }
    if (matches > 1)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod sandbox id prefix \"%s\" is ambiguous", id);
    return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT, "pod sandbox \"%s\" not found", id);
}

void crisp_pod_put(struct crisp_pod_store *ps, struct crisp_pod *pod)
{
    pthread_mutex_lock(&ps->lock);
    bool last = --pod->refs == 0;
    pthread_mutex_unlock(&ps->lock);
    if (last)
        crisp_pod_free(pod);
}

void crisp_pod_store_list(struct crisp_pod_store *ps, struct crisp_pod ***out, size_t *n)
{
    pthread_mutex_lock(&ps->lock);
    *out = crisp_xcalloc(ps->n_pods + 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; i < ps->n_pods; i++) {
        if (crisp_pod_state(ps->pods[i]) == CRISP_POD_CREATING)
            continue;
        ps->pods[i]->refs++;
        (*out)[(*n)++] = ps->pods[i];
    }
    pthread_mutex_unlock(&ps->lock);
}
