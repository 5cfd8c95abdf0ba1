#define _GNU_SOURCE
#include "container/update_resources.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "container/ctr_cgroup.h"
#include "container/ctr_resources.h"
#include "pod/pod_persist.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

typedef Runtime__V1__LinuxContainerResources Resources;

/* A deep copy owned by protobuf-c's default allocator, so that freeing the config frees it. */
static Resources *copy_resources(const Resources *res)
{
    size_t len = protobuf_c_message_get_packed_size(&res->base);
    _cleanup_free_ uint8_t *buf = crisp_xmalloc(len ? len : 1);
    protobuf_c_message_pack(&res->base, buf);
    Resources *copy = (Resources *)protobuf_c_message_unpack(
        &runtime__v1__linux_container_resources__descriptor, NULL, len, buf);
    if (!copy)
        abort(); /* packed by us a moment ago: only allocation can fail */
    return copy;
}

static void keep_string(char **dst, char **old)
{
    if (**dst || !**old)
        return;
    *dst = *old; /* an empty string in a message is protobuf_c_empty_string, never freed */
    *old = (char *)protobuf_c_empty_string;
}

/* new takes old's value wherever the update left a field unset; old gives up what moves. */
static void merge_unset(Resources *new, Resources *old)
{
    if (!new->cpu_period)
        new->cpu_period = old->cpu_period;
    if (!new->cpu_quota)
        new->cpu_quota = old->cpu_quota;
    if (!new->cpu_shares)
        new->cpu_shares = old->cpu_shares;
    if (!new->memory_limit_in_bytes)
        new->memory_limit_in_bytes = old->memory_limit_in_bytes;
    if (!new->memory_swap_limit_in_bytes)
        new->memory_swap_limit_in_bytes = old->memory_swap_limit_in_bytes;
    keep_string(&new->cpuset_cpus, &old->cpuset_cpus);
    keep_string(&new->cpuset_mems, &old->cpuset_mems);
    if (!new->n_hugepage_limits) {
        new->n_hugepage_limits = old->n_hugepage_limits, old->n_hugepage_limits = 0;
        new->hugepage_limits = old->hugepage_limits, old->hugepage_limits = NULL;
    }
    if (!new->n_unified) {
        new->n_unified = old->n_unified, old->n_unified = 0;
        new->unified = old->unified, old->unified = NULL;
    }
}

/* *slot (owned, may be NULL) becomes res merged over it. */
static void record(Resources **slot, const Resources *res, bool keep_oom_score_adj)
{
    Resources *new = copy_resources(res);
    if (*slot) {
        merge_unset(new, *slot);
        if (keep_oom_score_adj)
            new->oom_score_adj = (*slot)->oom_score_adj;
        protobuf_c_message_free_unpacked(&(*slot)->base, NULL);
    } else if (keep_oom_score_adj) {
        new->oom_score_adj = 0;
    }
    *slot = new;
}

static Runtime__V1__LinuxContainerConfig *ctr_linux(Runtime__V1__ContainerConfig *cfg)
{
    if (!cfg->linux) {
        cfg->linux = crisp_xmalloc(sizeof(*cfg->linux));
        runtime__v1__linux_container_config__init(cfg->linux);
    }
    return cfg->linux;
}

static int no_cgroups(const char *method, struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                        "%s: crispd runs without cgroups on this host", method);
}

/* Caller holds c->lock. */
static int update_locked(const struct crisp_ctr_env *env, struct crisp_ctr *c, const Resources *res,
                         struct crisp_err *err)
{
    crisp_ctr_refresh_locked(c);
    if (c->state == CRISP_CTR_EXITED)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ESRCH,
                            "UpdateContainerResources: container %s has exited", c->id);
    if (!env->cgroups || !c->cgroup || !*c->cgroup)
        return no_cgroups("UpdateContainerResources", err);
    int r = crisp_ctr_cgroup_update(env->cgroups, c->cgroup, res, err);
    if (r < 0) {
        crisp_err_prefix(err, "UpdateContainerResources");
        return r;
    }
    record(&ctr_linux(c->config)->resources, res, true);
    r = crisp_ctr_save_config(c, err);
    if (r == 0)
        log_info("container", "%s: resources updated", c->id);
    return r;
}

int crisp_ctr_update_resources(const struct crisp_ctr_env *env, const char *id,
                               const Resources *res, struct crisp_err *err)
{
    if (!res)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "UpdateContainerResources: linux is required (crisp runs Linux "
                            "containers only)");
    int r = crisp_ctr_resources_validate("UpdateContainerResources", "linux", res, err);
    struct crisp_ctr *c = NULL;
    if (r == 0)
        r = crisp_ctr_store_get(env->ctrs, id, &c, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->lock);
    r = update_locked(env, c, res, err);
    pthread_mutex_unlock(&c->lock);
    crisp_ctr_put(env->ctrs, c);
    return r;
}

static Runtime__V1__LinuxPodSandboxConfig *pod_linux(Runtime__V1__PodSandboxConfig *cfg)
{
    if (!cfg->linux) {
        cfg->linux = crisp_xmalloc(sizeof(*cfg->linux));
        runtime__v1__linux_pod_sandbox_config__init(cfg->linux);
    }
    return cfg->linux;
}

/* The pod's own cgroup, when the kubelet gave one and it exists already. */
static int apply_to_pod_cgroup(const struct crisp_ctr_env *env, const struct crisp_pod *pod,
                               const Resources *res, struct crisp_err *err)
{
    const char *parent = pod->config->linux ? pod->config->linux->cgroup_parent : "";
    while (parent && *parent == '/')
        parent++;
    if (!res || !parent || !*parent)
        return 0;
    if (!env->cgroups)
        return no_cgroups("UpdatePodSandboxResources", err);
    int r = crisp_ctr_cgroup_update(env->cgroups, parent, res, err);
    if (r == -ENOENT) { /* no container has made it yet: the kubelet's limits come with them */
        crisp_err_clear(err);
        return 0;
    }
    if (r < 0)
        crisp_err_prefix(err, "UpdatePodSandboxResources");
    return r;
}

int crisp_pod_update_resources(const struct crisp_ctr_env *env, const char *pod_id,
                               const Resources *overhead, const Resources *resources,
                               struct crisp_err *err)
{
    const char *m = "UpdatePodSandboxResources";
    int r = crisp_ctr_resources_validate(m, "overhead", overhead, err);
    if (r == 0)
        r = crisp_ctr_resources_validate(m, "resources", resources, err);
    struct crisp_pod *pod = NULL;
    if (r == 0)
        r = crisp_pod_store_get(env->pods, pod_id, &pod, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&pod->lock);
    r = apply_to_pod_cgroup(env, pod, resources, err);
    if (r == 0 && overhead)
        record(&pod_linux(pod->config)->overhead, overhead, false);
    if (r == 0 && resources)
        record(&pod_linux(pod->config)->resources, resources, false);
    if (r == 0)
        r = crisp_pod_save_config(pod, err);
    pthread_mutex_unlock(&pod->lock);
    crisp_pod_put(env->pods, pod);
    return r;
}
