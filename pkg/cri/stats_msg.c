#define _GNU_SOURCE
#include "cri/stats_msg.h"

#include <stdlib.h>
#include <string.h>

#include "cri/msg.h"
#include "cri/status.h"
#include "pod/pod_ns.h"
#include "stats/stats.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/mem.h"

#define UNLIMITED_ABOVE (1ULL << 62) /* v1 "no limit" is 2^63 rounded to a page */

static Runtime__V1__UInt64Value *u64(struct crisp_arena *a, uint64_t v)
{
    Runtime__V1__UInt64Value *out =
        crisp_msg_new(a, Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
    out->value = v;
    return out;
}

static Runtime__V1__CpuUsage *cpu_usage(struct crisp_arena *a, const struct crisp_ctr_usage *u)
{
    Runtime__V1__CpuUsage *cpu =
        crisp_msg_new(a, Runtime__V1__CpuUsage, RUNTIME__V1__CPU_USAGE__INIT);
    cpu->timestamp = u->timestamp;
    cpu->usage_core_nano_seconds = u64(a, u->cg.cpu_usage_ns);
    if (u->has_nano_cores)
        cpu->usage_nano_cores = u64(a, u->nano_cores);
    return cpu;
}

static Runtime__V1__MemoryUsage *memory_usage(struct crisp_arena *a,
                                              const struct crisp_ctr_usage *u)
{
    const struct crisp_cgroup_stats *cg = &u->cg;
    Runtime__V1__MemoryUsage *m =
        crisp_msg_new(a, Runtime__V1__MemoryUsage, RUNTIME__V1__MEMORY_USAGE__INIT);
    m->timestamp = u->timestamp;
    m->working_set_bytes = u64(a, cg->memory_working_set);
    m->usage_bytes = u64(a, cg->memory_usage);
    m->rss_bytes = u64(a, cg->memory_rss);
    m->page_faults = u64(a, cg->memory_pgfault);
    m->major_page_faults = u64(a, cg->memory_pgmajfault);
    if (cg->memory_limit < UNLIMITED_ABOVE)
        m->available_bytes = u64(a, cg->memory_limit > cg->memory_working_set
                                        ? cg->memory_limit - cg->memory_working_set
                                        : 0);
    return m;
}

static Runtime__V1__SwapUsage *swap_usage(struct crisp_arena *a, const struct crisp_ctr_usage *u)
{
    Runtime__V1__SwapUsage *s =
        crisp_msg_new(a, Runtime__V1__SwapUsage, RUNTIME__V1__SWAP_USAGE__INIT);
    s->timestamp = u->timestamp;
    s->swap_usage_bytes = u64(a, u->cg.swap_usage);
    if (u->cg.swap_limit < UNLIMITED_ABOVE)
        s->swap_available_bytes =
            u64(a, u->cg.swap_limit > u->cg.swap_usage ? u->cg.swap_limit - u->cg.swap_usage : 0);
    return s;
}

static Runtime__V1__FilesystemUsage *
writable_layer(struct crisp_arena *a, const struct crisp_ctr *c, const struct crisp_ctr_usage *u)
{
    Runtime__V1__FilesystemUsage *fs =
        crisp_msg_new(a, Runtime__V1__FilesystemUsage, RUNTIME__V1__FILESYSTEM_USAGE__INIT);
    fs->timestamp = u->fs_timestamp;
    fs->fs_id = crisp_msg_new(a, Runtime__V1__FilesystemIdentifier,
                              RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT);
    fs->fs_id->mountpoint = crisp_arena_printf(a, "%s/upper", c->rw_dir);
    fs->used_bytes = u64(a, u->fs_bytes);
    fs->inodes_used = u64(a, u->fs_inodes);
    return fs;
}

static Runtime__V1__ContainerAttributes *ctr_attributes(struct crisp_arena *a,
                                                        const struct crisp_ctr *c)
{
    const Runtime__V1__ContainerConfig *cfg = c->config;
    Runtime__V1__ContainerAttributes *at =
        crisp_msg_new(a, Runtime__V1__ContainerAttributes, RUNTIME__V1__CONTAINER_ATTRIBUTES__INIT);
    at->id = crisp_arena_strdup(a, c->id);
    at->metadata = cri_container_metadata(a, cfg->metadata);
    at->n_labels = cfg->n_labels;
    at->labels = crisp_msg_copy_map(a, &runtime__v1__container_attributes__labels_entry__descriptor,
                                    (void *const *)cfg->labels, cfg->n_labels);
    at->n_annotations = cfg->n_annotations;
    at->annotations =
        crisp_msg_copy_map(a, &runtime__v1__container_attributes__annotations_entry__descriptor,
                           (void *const *)cfg->annotations, cfg->n_annotations);
    return at;
}

Runtime__V1__ContainerStats *cri_container_stats(struct crisp_runtime *rt, struct crisp_arena *a,
                                                 struct crisp_ctr *c, uint64_t *pids)
{
    Runtime__V1__ContainerStats *st =
        crisp_msg_new(a, Runtime__V1__ContainerStats, RUNTIME__V1__CONTAINER_STATS__INIT);
    st->attributes = ctr_attributes(a, c);
    struct crisp_ctr_usage u;
    struct crisp_err err;
    if (crisp_stats_container(&rt->stats, c, &u, &err) < 0) {
        log_debug("stats", "%s: %s", c->id, err.msg);
        return st;
    }
    if (u.cg.has_cpu)
        st->cpu = cpu_usage(a, &u);
    if (u.cg.has_memory)
        st->memory = memory_usage(a, &u);
    if (u.cg.has_swap)
        st->swap = swap_usage(a, &u);
    if (u.has_fs)
        st->writable_layer = writable_layer(a, c, &u);
    if (pids && u.cg.has_pids)
        *pids += u.cg.pids_current;
    return st;
}

static uint64_t value_of(const Runtime__V1__UInt64Value *v)
{
    return v ? v->value : 0;
}

/* CPU and memory of the pod: its containers' summed. */
static void sum_containers(struct crisp_arena *a, Runtime__V1__LinuxPodSandboxStats *l,
                           Runtime__V1__ContainerStats **ctrs, size_t n, int64_t now)
{
    Runtime__V1__CpuUsage *cpu =
        crisp_msg_new(a, Runtime__V1__CpuUsage, RUNTIME__V1__CPU_USAGE__INIT);
    Runtime__V1__MemoryUsage *mem =
        crisp_msg_new(a, Runtime__V1__MemoryUsage, RUNTIME__V1__MEMORY_USAGE__INIT);
    cpu->timestamp = mem->timestamp = now;
    cpu->usage_core_nano_seconds = u64(a, 0);
    cpu->usage_nano_cores = u64(a, 0);
    mem->working_set_bytes = u64(a, 0);
    mem->usage_bytes = u64(a, 0);
    mem->rss_bytes = u64(a, 0);
    mem->page_faults = u64(a, 0);
    mem->major_page_faults = u64(a, 0);
    for (size_t i = 0; i < n; i++) {
        if (ctrs[i]->cpu) {
            cpu->usage_core_nano_seconds->value += value_of(ctrs[i]->cpu->usage_core_nano_seconds);
            cpu->usage_nano_cores->value += value_of(ctrs[i]->cpu->usage_nano_cores);
        }
        const Runtime__V1__MemoryUsage *m = ctrs[i]->memory;
        if (m) {
            mem->working_set_bytes->value += value_of(m->working_set_bytes);
            mem->usage_bytes->value += value_of(m->usage_bytes);
            mem->rss_bytes->value += value_of(m->rss_bytes);
            mem->page_faults->value += value_of(m->page_faults);
            mem->major_page_faults->value += value_of(m->major_page_faults);
        }
    }
    l->cpu = cpu;
    l->memory = mem;
}

static Runtime__V1__NetworkInterfaceUsage *interface_usage(struct crisp_arena *a,
                                                           const struct crisp_netdev *d)
{
    Runtime__V1__NetworkInterfaceUsage *i = crisp_msg_new(
        a, Runtime__V1__NetworkInterfaceUsage, RUNTIME__V1__NETWORK_INTERFACE_USAGE__INIT);
    i->name = crisp_arena_strdup(a, d->name);
    i->rx_bytes = u64(a, d->rx_bytes);
    i->rx_errors = u64(a, d->rx_errors);
    i->tx_bytes = u64(a, d->tx_bytes);
    i->tx_errors = u64(a, d->tx_errors);
    return i;
}

/* The default interface: eth0 (the CNI convention), else the first that is
 * not lo, else lo (a pod without CNI has only loopback). */
static size_t default_interface(const struct crisp_netdev *devs, size_t n)
{
    size_t pick = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(devs[i].name, "eth0") == 0)
            return i;
        if (strcmp(devs[pick].name, "lo") == 0 && strcmp(devs[i].name, "lo") != 0)
            pick = i;
    }
    return pick;
}

/* NULL for host-network pods and when the namespace cannot be read. */
static Runtime__V1__NetworkUsage *network_usage(struct crisp_arena *a, const struct crisp_pod *pod,
                                                int64_t now)
{
    _cleanup_free_ char *ns_dir = crisp_xasprintf("%s/ns", pod->dir);
    if (!crisp_pod_ns_pinned(ns_dir, "net"))
        return NULL;
    _cleanup_free_ char *path = crisp_xasprintf("%s/net", ns_dir);
    _cleanup_free_ struct crisp_netdev *devs = NULL;
    size_t n;
    struct crisp_err err;
    if (crisp_stats_netns_devices(path, &devs, &n, &err) < 0) {
        log_warn("stats", "pod %s: %s", pod->id, err.msg);
        return NULL;
    }
    if (n == 0)
        return NULL;
    Runtime__V1__NetworkUsage *net =
        crisp_msg_new(a, Runtime__V1__NetworkUsage, RUNTIME__V1__NETWORK_USAGE__INIT);
    net->timestamp = now;
    net->interfaces = crisp_arena_array(a, Runtime__V1__NetworkInterfaceUsage *, n);
    for (size_t i = 0; i < n; i++)
        net->interfaces[net->n_interfaces++] = interface_usage(a, &devs[i]);
    net->default_interface = net->interfaces[default_interface(devs, n)];
    return net;
}

static Runtime__V1__PodSandboxAttributes *pod_attributes(struct crisp_arena *a,
                                                         const struct crisp_pod *pod)
{
    const Runtime__V1__PodSandboxConfig *cfg = pod->config;
    Runtime__V1__PodSandboxAttributes *at = crisp_msg_new(
        a, Runtime__V1__PodSandboxAttributes, RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__INIT);
    at->id = crisp_arena_strdup(a, pod->id);
    at->metadata = cri_pod_metadata(a, cfg->metadata);
    at->n_labels = cfg->n_labels;
    at->labels =
        crisp_msg_copy_map(a, &runtime__v1__pod_sandbox_attributes__labels_entry__descriptor,
                           (void *const *)cfg->labels, cfg->n_labels);
    at->n_annotations = cfg->n_annotations;
    at->annotations =
        crisp_msg_copy_map(a, &runtime__v1__pod_sandbox_attributes__annotations_entry__descriptor,
                           (void *const *)cfg->annotations, cfg->n_annotations);
    return at;
}

Runtime__V1__PodSandboxStats *cri_pod_stats(struct crisp_arena *a, struct crisp_pod *pod,
                                            Runtime__V1__ContainerStats **ctrs, size_t n,
                                            uint64_t pids)
{
    int64_t now = crisp_now_ns();
    Runtime__V1__PodSandboxStats *st =
        crisp_msg_new(a, Runtime__V1__PodSandboxStats, RUNTIME__V1__POD_SANDBOX_STATS__INIT);
    st->attributes = pod_attributes(a, pod);
    Runtime__V1__LinuxPodSandboxStats *l = crisp_msg_new(
        a, Runtime__V1__LinuxPodSandboxStats, RUNTIME__V1__LINUX_POD_SANDBOX_STATS__INIT);
    sum_containers(a, l, ctrs, n, now);
    l->network = network_usage(a, pod, now);
    l->process = crisp_msg_new(a, Runtime__V1__ProcessUsage, RUNTIME__V1__PROCESS_USAGE__INIT);
    l->process->timestamp = now;
    l->process->process_count = u64(a, pids);
    l->containers = ctrs;
    l->n_containers = n;
    st->linux = l;
    return st;
}
