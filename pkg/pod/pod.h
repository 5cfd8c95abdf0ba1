/* Pod sandboxes: the in-memory table, its persistence under
 * <state>/pods/<id>/ (config.pb: the PodSandboxConfig as the kubelet sent it;
 * state.json: what changes), and the lifecycle. Intent is persisted before a
 * step is taken, so a crash mid-RunPodSandbox is undone at the next start.
 * Thread-safe; pods are reference counted (get/put). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "util/err.h"

#define CRISP_ID_LEN 64

enum crisp_pod_state { CRISP_POD_CREATING, CRISP_POD_READY, CRISP_POD_NOTREADY };

struct crisp_pod {
    char id[CRISP_ID_LEN + 1];
    char *dir;                             /* <state>/pods/<id> */
    Runtime__V1__PodSandboxConfig *config; /* owned, read-only after creation */
    char *runtime_handler;
    char *hostname;
    int64_t created_at; /* ns since the epoch */
    int refs;           /* guarded by the store lock */
    pthread_mutex_t lock;
    enum crisp_pod_state state; /* guarded by lock */
};

struct crisp_network;

struct crisp_pod_store {
    char *dir;                 /* <state>/pods */
    struct crisp_network *net; /* CNI; set after init; NULL: no pod networking */
    pthread_mutex_t lock;
    struct crisp_pod **pods;
    size_t n_pods;
};

/* Loads the persisted pods and reconciles them with what is really there. */
int crisp_pod_store_init(struct crisp_pod_store *ps, const char *state_dir, struct crisp_err *err);
void crisp_pod_store_free(struct crisp_pod_store *ps);

/* By full id or unique id prefix; NOT_FOUND otherwise. The caller puts it. */
int crisp_pod_store_get(struct crisp_pod_store *ps, const char *id, struct crisp_pod **out,
                        struct crisp_err *err);
void crisp_pod_put(struct crisp_pod_store *ps, struct crisp_pod *pod);
/* Every pod past creation (each referenced; put them, free the array). */
void crisp_pod_store_list(struct crisp_pod_store *ps, struct crisp_pod ***out, size_t *n);

enum crisp_pod_state crisp_pod_state(struct crisp_pod *pod);

int crisp_pod_run(struct crisp_pod_store *ps, const Runtime__V1__PodSandboxConfig *config,
                  const char *runtime_handler, char id_out[CRISP_ID_LEN + 1],
                  struct crisp_err *err);
/* Idempotent; an unknown id is not an error. */
int crisp_pod_stop(struct crisp_pod_store *ps, const char *id, struct crisp_err *err);
int crisp_pod_remove(struct crisp_pod_store *ps, const char *id, struct crisp_err *err);

/* The pod's namespace mode: which is 'n'et, 'i'pc or 'p'id. Without any
 * namespace options: POD for net and ipc, CONTAINER for pid. */
int crisp_pod_ns_mode(const struct crisp_pod *pod, char which);
