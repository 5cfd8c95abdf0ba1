/* The daemon-wide state CRI handlers work on. One instance, owned by main;
 * handlers reach it through crisp_call_app. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stddef.h>

#include "config/config.h"
#include "image/store.h"
#include "network/network.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "pod/pod.h"
#include "runtime/cgroup.h"
#include "server/server.h"
#include "events/events.h"
#include "events/exit_watch.h"
#include "metrics/metrics.h"
#include "stats/stats.h"
#include "stream/server.h"

struct crisp_runtime {
    const struct crisp_config *cfg;
    pthread_mutex_t lock; /* guards the fields below */
    char *pod_cidr;       /* from UpdateRuntimeConfig; "" until the kubelet sends one */
    struct crisp_image_store images;
    struct crisp_pod_store pods;
    struct crisp_ctr_store ctrs;
    struct crisp_cgroup_root cgroup_root;
    bool have_cgroups;
    char *monitor_path; /* crisp-monitor, next to crispd */
    struct crisp_ctr_env ctr_env;
    struct crisp_network net; /* CNI */
    bool have_net;
    struct crisp_stream_server *stream;   /* set by main once the streaming server runs */
    struct crisp_stats stats;             /* usage sampler (pkg/stats) */
    struct crisp_exit_watch exit_watch;   /* notices containers exiting on their own */
    struct crisp_metrics_server *metrics; /* NULL: metrics_address is "" */
};

/* Stops (or removes) every container of a pod; container_service.c. */
int cri_pod_containers_down(struct crisp_runtime *rt, const char *pod_id, bool remove,
                            struct crisp_err *err);

/* Counts calls and, when metrics_address is set, serves /metrics
 * (metrics_gauges.c). */
int cri_metrics_start(struct crisp_runtime *rt, struct crisp_err *err);

/* The GetContainerEvents message of ev (events_service.c; ctx is the runtime). */
uint8_t *cri_build_event(void *ctx, const struct crisp_event *ev, size_t *len);

/* Creates the root and state directories and reloads persisted runtime state. */
int crisp_runtime_init(struct crisp_runtime *rt, const struct crisp_config *cfg,
                       struct crisp_err *err);
void crisp_runtime_free(struct crisp_runtime *rt);

/* The CRI v1 services and the handlers implemented so far. */
extern const ProtobufCServiceDescriptor *const crisp_cri_services[];
extern const size_t crisp_cri_n_services;
extern const struct crisp_handler crisp_cri_handlers[];
extern const size_t crisp_cri_n_handlers;
