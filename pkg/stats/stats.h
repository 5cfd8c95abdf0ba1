/* Container and pod usage: cgroup counters read at call time, plus what is
 * too costly or needs history to read per call, kept by a background sampler:
 * the previous CPU reading of each container (for nano-cores) and the size of
 * its writable layer (a walk of the overlay upper dir, redone at most every
 * CRISP_STATS_FS_INTERVAL_NS). Thread-safe. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container/container.h"
#include "runtime/cgroup.h"
#include "util/err.h"

#define CRISP_STATS_SAMPLE_INTERVAL_NS 1000000000LL /* CPU samples */
#define CRISP_STATS_FS_INTERVAL_NS     5000000000LL /* writable layer walks */

struct crisp_ctr_usage {
    int64_t timestamp; /* when the cgroup was read, ns since the epoch */
    struct crisp_cgroup_stats cg;
    bool has_nano_cores;
    uint64_t nano_cores; /* CPU rate since the sampler's reading */
    bool has_fs;         /* the upper dir has been walked at least once */
    int64_t fs_timestamp;
    uint64_t fs_bytes, fs_inodes;
};

struct crisp_stats_entry; /* one container's history */

struct crisp_stats {
    struct crisp_ctr_store *ctrs;
    const struct crisp_cgroup_root *cgroups; /* NULL: no cgroups, no usage */
    pthread_mutex_t lock;                    /* guards entries and stopping */
    pthread_cond_t wake;
    struct crisp_stats_entry *entries;
    size_t n_entries;
    bool stopping, started;
    pthread_t thread;
};

/* Starts the sampler thread. */
int crisp_stats_start(struct crisp_stats *s, struct crisp_ctr_store *ctrs,
                      const struct crisp_cgroup_root *cgroups, struct crisp_err *err);
void crisp_stats_stop(struct crisp_stats *s);

/* The usage of container c now. cgroup and rw_dir are c's (read without its
 * lock: they never change after creation). NOT_FOUND when the container has
 * no cgroup (created without cgroups) or its cgroup is gone. */
int crisp_stats_container(struct crisp_stats *s, const struct crisp_ctr *c,
                          struct crisp_ctr_usage *out, struct crisp_err *err);

/* Bytes (allocated blocks) and inodes under dir, not crossing mounts nor
 * following symlinks. A missing dir is 0/0. */
int crisp_stats_dir_usage(const char *dir, uint64_t *bytes, uint64_t *inodes,
                          struct crisp_err *err);

/* One network interface's counters (/proc/net/dev). */
struct crisp_netdev {
    char name[32];
    uint64_t rx_bytes, rx_errors, tx_bytes, tx_errors;
};

/* Parses /proc/net/dev text: *out is malloc'd. Malformed lines are skipped. */
void crisp_stats_parse_netdev(const char *text, struct crisp_netdev **out, size_t *n);
/* The interfaces of the network namespace pinned at netns_path, read from a
 * short-lived thread that joins it. */
int crisp_stats_netns_devices(const char *netns_path, struct crisp_netdev **out, size_t *n,
                              struct crisp_err *err);
