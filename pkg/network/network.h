/* Pod networking through CNI. One instance per crispd (owned by the runtime).
 *
 * Each attachment is persisted as <state>/network/<pod id>.json: the netns
 * path, CNI_ARGS, the network config list and the capability values are
 * written before ADD and the result right after it, so whatever happens
 * (a failed plugin, a crispd killed mid-ADD, a pod removed while a plugin
 * was failing) a DEL with the same inputs can release it later. The record
 * goes only when DEL succeeded. At start, records of pods that no longer
 * exist are released.
 *
 * The config dir is watched (inotify, own thread) for NetworkReady; ADD
 * always reads the dir afresh. Thread-safe. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api.pb-c.h"
#include "network/cni_exec.h"
#include "util/err.h"

struct crisp_network_opts {
    const char *conf_dir;
    char *const *bin_dirs;
    size_t n_bin_dirs;
    int timeout_seconds;
    const char *state_dir; /* records go to <state_dir>/network */
};

struct crisp_network {
    char *conf_dir;
    char **bin_dirs;
    struct crisp_cni_plugin_dirs dirs; /* points into bin_dirs */
    char *records_dir;
    pthread_mutex_t lock; /* guards ready and status_msg */
    bool ready;
    char *status_msg;
    pthread_t watcher;
    int wake[2]; /* the watcher's stop pipe */
    bool watching;
};

struct crisp_network_pod {
    const char *id;
    const char *netns; /* the pinned netns path */
    const Runtime__V1__PodSandboxConfig *config;
};

int crisp_network_init(struct crisp_network *net, const struct crisp_network_opts *opts,
                       struct crisp_err *err);
/* Stops the watcher and frees everything. */
void crisp_network_free(struct crisp_network *net);

/* NetworkReady: true when the dir has a valid network config; otherwise the
 * message names the dir and why (malloc'd into *msg). */
bool crisp_network_ready(struct crisp_network *net, char **msg);
/* Re-reads the config dir now (the watcher calls it on every change). */
void crisp_network_refresh(struct crisp_network *net);

/* ADD, in two steps so the first plugin starts up while the caller makes the netns: begin
 * persists the record and starts the first plugin (the netns need not exist yet); finish runs
 * the list into pod->netns, persists the result and returns the pod's IPs (malloc'd; the
 * primary first), and on failure deletes again what the plugins made (or leaves it recorded
 * for a later DEL); cancel, instead of finish, kills the waiting plugin and drops the record.
 * finish and cancel free add. */
struct crisp_network_add;
int crisp_network_attach_begin(struct crisp_network *net, const struct crisp_network_pod *pod,
                               struct crisp_network_add **add, struct crisp_err *err);
int crisp_network_attach_finish(struct crisp_network *net, struct crisp_network_add *add,
                                char ***ips, size_t *n_ips, struct crisp_err *err);
void crisp_network_attach_cancel(struct crisp_network *net, struct crisp_network_add *add);
/* CHECK of an attachment; NOT_FOUND when the pod has none. */
int crisp_network_check(struct crisp_network *net, const char *pod_id, struct crisp_err *err);
/* DEL; no record is success. On failure the record stays for a retry. */
int crisp_network_detach(struct crisp_network *net, const char *pod_id, struct crisp_err *err);
/* The recorded CNI result (a new reference), NULL when there is none. */
json_t *crisp_network_result(struct crisp_network *net, const char *pod_id);
/* The IPs of a recorded attachment (empty when there is none). */
char **crisp_network_pod_ips(struct crisp_network *net, const char *pod_id, size_t *n);

/* Releases every recorded attachment whose pod exists() says is gone. */
void crisp_network_recover(struct crisp_network *net, bool (*exists)(void *ctx, const char *id),
                           void *ctx);
