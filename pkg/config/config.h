/* crispd configuration: defaults, then the main JSON file, then drop-ins
 * (every *.json in the directory named like the main file with .d in place
 * of .json, in name order), then command-line flags.
 * Every key is described in config.c's schema and in docs/config.md.
 * The struct owns its strings; crisp_config_free releases them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"
#include "util/log.h"

#define CRISP_DEFAULT_CONFIG_PATH "/etc/crisp/crisp.json"

enum crisp_cgroup_driver {
    CRISP_CGROUP_DRIVER_CGROUPFS,
    CRISP_CGROUP_DRIVER_SYSTEMD,
};

/* How to reach one registry host ("docker.io", "localhost:5000"). */
struct crisp_registry_config {
    char *host;
    char **mirrors; /* endpoint URLs tried in order, e.g. "http://127.0.0.1:5000" */
    size_t n_mirrors;
    bool upstream; /* fall back to the host itself after the mirrors */
    bool insecure; /* plain HTTP, or HTTPS without certificate verification */
    char *ca_file; /* extra CA bundle for this host's TLS; NULL: the system's */
};

struct crisp_config {
    char *listen; /* path of the CRI unix socket */
    char *root;   /* persistent data: images, layers */
    char *state;  /* volatile data: pods, containers */
    enum crisp_log_level log_level;
    long long workers;                  /* threads serving gRPC calls */
    long long max_recv_message_size;    /* bytes; larger requests get RESOURCE_EXHAUSTED */
    long long shutdown_timeout_seconds; /* grace for in-flight calls on SIGTERM */
    enum crisp_cgroup_driver cgroup_driver;
    /* images */
    long long max_concurrent_downloads;      /* layers fetched at once per pull */
    long long pull_progress_timeout_seconds; /* abort a pull slower than 1 KiB/s this long */
    bool allow_device_nodes;                 /* create device nodes found in layers */
    bool oom_score_adj_clamp; /* clamp a too-low container oom_score_adj instead of failing */
    struct crisp_registry_config *registries; /* per-host settings */
    size_t n_registries;
    /* pod networking (CNI) */
    char *cni_conf_dir;  /* the first valid .conflist or .conf here is used */
    char **cni_bin_dirs; /* plugin binaries, searched in order */
    size_t n_cni_bin_dirs;
    long long cni_plugin_timeout_seconds; /* one plugin execution */
    /* streaming server (Exec, Attach, PortForward) */
    char *stream_address;                  /* "host:port"; port 0 = an ephemeral port */
    long long stream_token_ttl_seconds;    /* a URL handed out is valid this long, once */
    long long stream_idle_timeout_seconds; /* 0 = never close an idle stream */
    /* Prometheus text endpoint: "host:port", "" = off */
    char *metrics_address;
};

/* The settings for a registry host; NULL when it has none. */
const struct crisp_registry_config *crisp_config_registry(const struct crisp_config *cfg,
                                                          const char *host);

void crisp_config_init(struct crisp_config *cfg);
void crisp_config_free(struct crisp_config *cfg);

/* Applies one JSON file on top of cfg. Errors (INVALID_ARGUMENT) read
 * "<file>: <key>: <what was expected>". */
int crisp_config_apply_file(struct crisp_config *cfg, const char *path, struct crisp_err *err);

/* Applies the main file and its drop-in directory. A missing main file is an
 * error only when required (an explicit --config). */
int crisp_config_load(struct crisp_config *cfg, const char *main_path, bool required,
                      struct crisp_err *err);

/* Sets one key from a string, as a command-line flag does. */
int crisp_config_set_flag(struct crisp_config *cfg, const char *key, const char *value,
                          struct crisp_err *err);

/* The drop-in directory that belongs to a main config path (malloc'd). */
char *crisp_config_dropin_dir(const char *main_path);

/* The effective configuration as a JSON object (new reference). */
json_t *crisp_config_to_json(const struct crisp_config *cfg);

const char *crisp_cgroup_driver_name(enum crisp_cgroup_driver driver);
