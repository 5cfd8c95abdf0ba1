/* Registry client (OCI distribution protocol over libcurl) for one
 * repository: endpoint choice (mirrors in order, then the upstream host),
 * token and basic auth, retries with backoff, a no-progress timeout.
 * Safe to use from several threads at once (one curl handle per thread). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/err.h"

struct crisp_registry_creds {
    char *username;
    char *password;
    char *identity_token; /* OAuth2 refresh token */
    char *registry_token; /* a bearer token to use as it is */
};

struct crisp_registry_endpoint {
    char *base;    /* "https://registry-1.docker.io" or a mirror URL, no trailing '/' */
    bool insecure; /* skip TLS verification */
    bool is_mirror;
    bool https_then_http; /* scheme unknown yet: try https, then plain http */
};

struct crisp_registry {
    char *host; /* as in the image reference, "docker.io" */
    char *repo; /* "library/busybox" */
    struct crisp_registry_endpoint *endpoints;
    size_t n_endpoints;
    const char *ca_file;
    long progress_timeout_seconds;
    struct crisp_registry_creds creds;
    pthread_mutex_t lock; /* guards the fields below */
    size_t active;        /* index of the endpoint that answered last */
    char *authorization;  /* "Bearer ..." or "Basic ..." once known */
};

/* Receives the body of a successful (2xx) response. Returns 0 or an error;
 * reset is called before a retry starts the body over. */
struct crisp_http_sink {
    int (*write)(void *ctx, const void *data, size_t len, struct crisp_err *err);
    int (*reset)(void *ctx, struct crisp_err *err);
    void *ctx;
};

struct crisp_http_response {
    long status;
    char content_type[128];
    char docker_digest[80]; /* Docker-Content-Digest */
};

int crisp_registry_init(struct crisp_registry *reg, const struct crisp_config *cfg,
                        const char *host, const char *repo,
                        const struct crisp_registry_creds *creds, struct crisp_err *err);
void crisp_registry_free(struct crisp_registry *reg);

/* GET <endpoint>/v2/<repo>/<kind>/<reference> ("manifests" or "blobs"), with
 * Accept when not NULL. Succeeds only with a 2xx whose body went to sink.
 * Errors: NOT_FOUND (404 on every endpoint), UNAUTHENTICATED / PERMISSION_DENIED
 * (401 / 403), DEADLINE_EXCEEDED (no progress), UNAVAILABLE (unreachable),
 * each message naming the registry and the object. */
int crisp_registry_get(struct crisp_registry *reg, const char *kind, const char *reference,
                       const char *accept, const struct crisp_http_sink *sink,
                       struct crisp_http_response *resp, struct crisp_err *err);

/* A sink that collects the body in memory, up to max bytes. */
struct crisp_mem_sink {
    char *data;
    size_t len, max;
};
struct crisp_http_sink crisp_mem_sink(struct crisp_mem_sink *mem);
/* Appends to the buffer; fails (FAILED_PRECONDITION) past max. */
int crisp_mem_sink_append(struct crisp_mem_sink *mem, const void *data, size_t len,
                          struct crisp_err *err);
void crisp_mem_sink_free(struct crisp_mem_sink *mem);

/* Global curl setup, once at start. */
void crisp_registry_global_init(void);
