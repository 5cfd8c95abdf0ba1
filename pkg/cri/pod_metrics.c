/* ListMetricDescriptors, ListPodSandboxMetrics and StreamPodSandboxMetrics: the pod and container
 * stats as cAdvisor-named metrics (values are unsigned integers, so CPU time
 * is in whole seconds). Container metrics are labelled id, name, image; the
 * pod's own (processes, network per interface) id=<pod id>, name="POD". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/runtime.h"
#include "cri/stats_msg.h"
#include "util/ids.h"

enum metric_labels { CTR_LABELS, NET_LABELS };

struct metric_def {
    const char *name, *help;
    Runtime__V1__MetricType type;
    enum metric_labels labels;
};

enum {
    M_CPU,
    M_MEM_WS,
    M_MEM_USAGE,
    M_MEM_RSS,
    M_MEM_SWAP,
    M_FS_USAGE,
    M_FS_INODES,
    M_PROCESSES,
    M_NET_RX,
    M_NET_TX,
    M_NET_RX_ERR,
    M_NET_TX_ERR,
    M_N
};

#define COUNTER RUNTIME__V1__METRIC_TYPE__COUNTER
#define GAUGE   RUNTIME__V1__METRIC_TYPE__GAUGE

static const struct metric_def defs[M_N] = {
    [M_CPU] = {"container_cpu_usage_seconds_total", "Cumulative CPU time consumed, in seconds.",
               COUNTER, CTR_LABELS},
    [M_MEM_WS] = {"container_memory_working_set_bytes", "Current working set, in bytes.", GAUGE,
                  CTR_LABELS},
    [M_MEM_USAGE] = {"container_memory_usage_bytes",
                     "Current memory usage, including all memory regardless of when it was "
                     "accessed, in bytes.",
                     GAUGE, CTR_LABELS},
    [M_MEM_RSS] = {"container_memory_rss", "Size of RSS, in bytes.", GAUGE, CTR_LABELS},
    [M_MEM_SWAP] = {"container_memory_swap", "Container swap usage, in bytes.", GAUGE, CTR_LABELS},
    [M_FS_USAGE] = {"container_fs_usage_bytes", "Bytes consumed by the container's writable layer.",
                    GAUGE, CTR_LABELS},
    [M_FS_INODES] = {"container_fs_inodes_total", "Inodes used by the container's writable layer.",
                     GAUGE, CTR_LABELS},
    [M_PROCESSES] = {"container_processes", "Number of processes running inside the pod.", GAUGE,
                     CTR_LABELS},
    [M_NET_RX] = {"container_network_receive_bytes_total", "Cumulative bytes received.", COUNTER,
                  NET_LABELS},
    [M_NET_TX] = {"container_network_transmit_bytes_total", "Cumulative bytes transmitted.",
                  COUNTER, NET_LABELS},
    [M_NET_RX_ERR] = {"container_network_receive_errors_total",
                      "Cumulative errors encountered while receiving.", COUNTER, NET_LABELS},
    [M_NET_TX_ERR] = {"container_network_transmit_errors_total",
                      "Cumulative errors encountered while transmitting.", COUNTER, NET_LABELS},
};

static char *ctr_label_keys[] = {"id", "name", "image"};
static char *net_label_keys[] = {"id", "name", "image", "interface"};

CRI_UNARY(cri_list_metric_descriptors)
{
    (void)req, (void)err;
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__ListMetricDescriptorsResponse *out =
        crisp_msg_new(a, Runtime__V1__ListMetricDescriptorsResponse,
                      RUNTIME__V1__LIST_METRIC_DESCRIPTORS_RESPONSE__INIT);
    out->descriptors = crisp_arena_array(a, Runtime__V1__MetricDescriptor *, M_N);
    for (size_t i = 0; i < M_N; i++) {
        Runtime__V1__MetricDescriptor *d =
            crisp_msg_new(a, Runtime__V1__MetricDescriptor, RUNTIME__V1__METRIC_DESCRIPTOR__INIT);
        d->name = (char *)defs[i].name;
        d->help = (char *)defs[i].help;
        bool net = defs[i].labels == NET_LABELS;
        d->label_keys = net ? net_label_keys : ctr_label_keys;
        d->n_label_keys = net ? 4 : 3;
        out->descriptors[out->n_descriptors++] = d;
    }
    *resp = &out->base;
    return 0;
}

/* Collects metrics of one owner (a pod or a container) into an arena array. */
struct metric_list {
    struct crisp_arena *a;
    int64_t now;
    char **labels; /* id, name, image */
    Runtime__V1__Metric **items;
    size_t n, cap;
};

static void add(struct metric_list *l, size_t def, uint64_t value, const char *iface)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        Runtime__V1__Metric **grown = crisp_arena_array(l->a, Runtime__V1__Metric *, cap);
        if (l->n)
            memcpy(grown, l->items, l->n * sizeof(*grown));
        l->items = grown;
        l->cap = cap;
    }
    Runtime__V1__Metric *m = crisp_msg_new(l->a, Runtime__V1__Metric, RUNTIME__V1__METRIC__INIT);
    m->name = (char *)defs[def].name;
    m->timestamp = l->now;
    m->metric_type = defs[def].type;
    m->n_label_values = iface ? 4 : 3;
    m->label_values = crisp_arena_array(l->a, char *, 4);
    memcpy(m->label_values, l->labels, 3 * sizeof(char *));
    m->label_values[3] = (char *)iface;
    m->value = crisp_msg_new(l->a, Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
    m->value->value = value;
    l->items[l->n++] = m;
}

static void container_metrics(struct metric_list *l, const Runtime__V1__ContainerStats *s)
{
    if (s->cpu && s->cpu->usage_core_nano_seconds)
        add(l, M_CPU, s->cpu->usage_core_nano_seconds->value / 1000000000ULL, NULL);
    if (s->memory) {
        add(l, M_MEM_WS, s->memory->working_set_bytes->value, NULL);
        add(l, M_MEM_USAGE, s->memory->usage_bytes->value, NULL);
        add(l, M_MEM_RSS, s->memory->rss_bytes->value, NULL);
    }
    if (s->swap)
        add(l, M_MEM_SWAP, s->swap->swap_usage_bytes->value, NULL);
    if (s->writable_layer) {
        add(l, M_FS_USAGE, s->writable_layer->used_bytes->value, NULL);
        add(l, M_FS_INODES, s->writable_layer->inodes_used->value, NULL);
    }
}

static void pod_metrics(struct metric_list *l, const Runtime__V1__LinuxPodSandboxStats *p)
{
    add(l, M_PROCESSES, p->process->process_count->value, NULL);
    for (size_t i = 0; p->network && i < p->network->n_interfaces; i++) {
        const Runtime__V1__NetworkInterfaceUsage *n = p->network->interfaces[i];
        add(l, M_NET_RX, n->rx_bytes->value, n->name);
        add(l, M_NET_TX, n->tx_bytes->value, n->name);
        add(l, M_NET_RX_ERR, n->rx_errors->value, n->name);
        add(l, M_NET_TX_ERR, n->tx_errors->value, n->name);
    }
}

/* The image the container was created from, as the kubelet named it. */
static char *image_of(struct crisp_runtime *rt, struct crisp_arena *a, const char *id)
{
    struct crisp_ctr *c;
    struct crisp_err err;
    if (crisp_ctr_store_get(&rt->ctrs, id, &c, &err) < 0)
        return ""; /* removed meanwhile */
    char *image = crisp_arena_strdup(a, c->image_ref);
    crisp_ctr_put(&rt->ctrs, c);
    return image;
}

static Runtime__V1__PodSandboxMetrics *
metrics_of(struct crisp_arena *a, const Runtime__V1__PodSandboxStats *st, struct crisp_runtime *rt)
{
    int64_t now = crisp_now_ns();
    Runtime__V1__PodSandboxMetrics *pm =
        crisp_msg_new(a, Runtime__V1__PodSandboxMetrics, RUNTIME__V1__POD_SANDBOX_METRICS__INIT);
    pm->pod_sandbox_id = st->attributes->id;
    char *pod_labels[3] = {st->attributes->id, "POD", ""};
    struct metric_list pl = {.a = a, .now = now, .labels = pod_labels};
    pod_metrics(&pl, st->linux);
    pm->metrics = pl.items;
    pm->n_metrics = pl.n;
    size_t n = st->linux->n_containers;
    pm->container_metrics = crisp_arena_array(a, Runtime__V1__ContainerMetrics *, n + 1);
    for (size_t i = 0; i < n; i++) {
        const Runtime__V1__ContainerStats *cs = st->linux->containers[i];
        Runtime__V1__ContainerMetrics *cm =
            crisp_msg_new(a, Runtime__V1__ContainerMetrics, RUNTIME__V1__CONTAINER_METRICS__INIT);
        cm->container_id = cs->attributes->id;
        char *labels[3] = {cs->attributes->id, cs->attributes->metadata->name,
                           image_of(rt, a, cs->attributes->id)};
        struct metric_list cl = {.a = a, .now = now, .labels = labels};
        container_metrics(&cl, cs);
        cm->metrics = cl.items;
        cm->n_metrics = cl.n;
        pm->container_metrics[pm->n_container_metrics++] = cm;
    }
    return pm;
}

static Runtime__V1__PodSandboxMetrics **all_pod_metrics(struct crisp_runtime *rt,
                                                        struct crisp_arena *a, size_t *n)
{
    Runtime__V1__PodSandboxStats **stats = cri_pod_stats_list(rt, a, NULL, n);
    Runtime__V1__PodSandboxMetrics **out =
        crisp_arena_array(a, Runtime__V1__PodSandboxMetrics *, *n + 1);
    for (size_t i = 0; i < *n; i++)
        out[i] = metrics_of(a, stats[i], rt);
    return out;
}

CRI_UNARY(cri_list_pod_sandbox_metrics)
{
    (void)req, (void)err;
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__ListPodSandboxMetricsResponse *out =
        crisp_msg_new(a, Runtime__V1__ListPodSandboxMetricsResponse,
                      RUNTIME__V1__LIST_POD_SANDBOX_METRICS_RESPONSE__INIT);
    out->pod_metrics = all_pod_metrics(crisp_call_app(call), a, &out->n_pod_metrics);
    *resp = &out->base;
    return 0;
}

int cri_stream_pod_sandbox_metrics(struct crisp_call *call, const ProtobufCMessage *req,
                                   struct crisp_err *err)
{
    (void)req;
    size_t n;
    Runtime__V1__PodSandboxMetrics **items =
        all_pod_metrics(crisp_call_app(call), crisp_call_arena(call), &n);
    return crisp_send_chunked(call, &runtime__v1__stream_pod_sandbox_metrics_response__descriptor,
                              items, n, err);
}
