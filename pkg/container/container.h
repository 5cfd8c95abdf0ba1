/* Containers: the in-memory table and its persistence under
 * <state>/containers/<id>/ (config.pb: the ContainerConfig as the kubelet sent
 * it; state.json: what crispd decided; pid, exit.json, monitor.sock: written by
 * the container's crisp-monitor). The writable layer lives under
 * <root>/containers/<id>/ (upper, work, rootfs). Thread-safe; containers are
 * reference counted (get/put). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api.pb-c.h"
#include "util/err.h"

#define CRISP_CTR_ID_LEN 64

enum crisp_ctr_state {
    CRISP_CTR_CREATING, /* being set up: invisible */
    CRISP_CTR_CREATED,
    CRISP_CTR_RUNNING,
    CRISP_CTR_EXITED,
};

struct crisp_ctr {
    char id[CRISP_CTR_ID_LEN + 1];
    char pod_id[CRISP_CTR_ID_LEN + 1];
    char *dir;                            /* <state>/containers/<id> */
    char *rw_dir;                         /* <root>/containers/<id> */
    Runtime__V1__ContainerConfig *config; /* owned, read-only after creation */
    char *image_id;                       /* config digest */
    char *image_ref;                      /* the image as the kubelet named it */
    char *log_path;                       /* absolute, "" when none */
    char *cgroup;                         /* cgroup path relative to the hierarchy roots */
    pid_t scope_holder; /* systemd driver: the scope's placeholder during create, else 0 */
    int stop_signal;    /* from the image, or SIGTERM */
    uid_t uid;          /* the process's ids, as resolved at creation */
    gid_t gid;
    gid_t *groups;
    size_t n_groups;
    int64_t created_at;
    int refs;             /* guarded by the store lock */
    pthread_mutex_t lock; /* guards the fields below */
    enum crisp_ctr_state state;
    pid_t pid;
    int64_t started_at, finished_at;
    int32_t exit_code;
    bool oom_killed;
    char *message; /* why it failed to start, "" otherwise */
};

struct crisp_ctr_store {
    char *dir;    /* <state>/containers */
    char *rw_dir; /* <root>/containers */
    pthread_mutex_t lock;
    struct crisp_ctr **ctrs;
    size_t n_ctrs;
};

int crisp_ctr_store_init(struct crisp_ctr_store *cs, const char *state_dir, const char *root_dir,
                         struct crisp_err *err);
void crisp_ctr_store_free(struct crisp_ctr_store *cs);

/* By full id or unique prefix; NOT_FOUND otherwise. The caller puts it. */
int crisp_ctr_store_get(struct crisp_ctr_store *cs, const char *id, struct crisp_ctr **out,
                        struct crisp_err *err);
void crisp_ctr_put(struct crisp_ctr_store *cs, struct crisp_ctr *c);
/* Every container past creation (referenced), optionally of one pod only. */
void crisp_ctr_store_list(struct crisp_ctr_store *cs, const char *pod_id, struct crisp_ctr ***out,
                          size_t *n);

/* Reserves the name (metadata name + attempt, unique per pod) and an id:
 * a CREATING entry. ALREADY_EXISTS naming the holder when taken. */
int crisp_ctr_reserve(struct crisp_ctr_store *cs, const char *pod_id,
                      const Runtime__V1__ContainerConfig *config, struct crisp_ctr **out,
                      struct crisp_err *err);
/* Drops a container from the table (and the table's reference). */
void crisp_ctr_unlist(struct crisp_ctr_store *cs, struct crisp_ctr *c);

int crisp_ctr_save(struct crisp_ctr *c, struct crisp_err *err); /* state.json; holds c->lock */
int crisp_ctr_save_config(struct crisp_ctr *c, struct crisp_err *err);

/* A container that must be running for method: returned referenced and
 * locked (FAILED_PRECONDITION when it is not running, NOT_FOUND when unknown).
 * Release with crisp_ctr_unlock_put. */
int crisp_ctr_get_running(struct crisp_ctr_store *cs, const char *id, const char *method,
                          struct crisp_ctr **out, struct crisp_err *err);
void crisp_ctr_unlock_put(struct crisp_ctr_store *cs, struct crisp_ctr *c);

/* Folds the monitor's exit.json into the state when the container has
 * exited. Caller holds c->lock. */
void crisp_ctr_refresh_locked(struct crisp_ctr *c);
