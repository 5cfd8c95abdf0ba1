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
    struct crisp_stream_server *stream; /* set by main once the streaming server runs */
};

/* Stops (or removes) every container of a pod; container_service.c. */
int cri_pod_containers_down(struct crisp_runtime *rt, const char *pod_id, bool remove,
                            struct crisp_err *err);

/* Creates the root and state directories and reloads persisted runtime state. */
int crisp_runtime_init(struct crisp_runtime *rt, const struct crisp_config *cfg,
                       struct crisp_err *err);
void crisp_runtime_free(struct crisp_runtime *rt);

/* The CRI v1 services and the handlers implemented so far. */
extern const ProtobufCServiceDescriptor *const crisp_cri_services[];
extern const size_t crisp_cri_n_services;
extern const struct crisp_handler crisp_cri_handlers[];
extern const size_t crisp_cri_n_handlers;
