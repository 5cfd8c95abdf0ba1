/* crispd's own metrics in the Prometheus text format (version 0.0.4):
 * per-RPC counts by status code and latency histograms, image pulls (bytes
 * from registries, durations, results), and gauges the daemon supplies at
 * scrape time (pods and containers by state, live monitors) plus crispd's
 * RSS and open fds. Counting is lock-free (atomics); the text is built only
 * when scraped. */
#pragma once

#include <grpc/status.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CRISP_METRICS_MAX_ROUTES 96 /* route slots; routes past it are not counted */

/* A crisp_call_observer: one handled call. */
void crisp_metrics_observe_rpc(size_t route, const char *method, grpc_status_code code, int64_t ns);
/* Body bytes received from registries (manifests, configs, layers). */
void crisp_metrics_add_pull_bytes(uint64_t bytes);
/* One PullImage: its duration and whether it succeeded. */
void crisp_metrics_observe_pull(int64_t ns, bool ok);

struct crisp_metrics_gauges {
    uint64_t pods_ready, pods_notready;
    uint64_t containers_created, containers_running, containers_exited;
    uint64_t monitors; /* crisp-monitor processes alive */
    uint64_t event_subscribers;
};
typedef void (*crisp_metrics_gauge_fn)(void *ctx, struct crisp_metrics_gauges *out);

/* The whole exposition text, malloc'd. */
char *crisp_metrics_render(crisp_metrics_gauge_fn gauges, void *ctx);

struct crisp_metrics_server;

/* Serves GET /metrics over HTTP/1.1 on address ("host:port": an IPv4
 * literal, [IPv6] or localhost; port 0 picks a free port) from a thread of
 * its own. One request per connection. */
int crisp_metrics_serve(const char *address, crisp_metrics_gauge_fn gauges, void *ctx,
                        struct crisp_metrics_server **out, struct crisp_err *err);
/* The port actually bound. */
int crisp_metrics_port(const struct crisp_metrics_server *srv);
void crisp_metrics_stop(struct crisp_metrics_server *srv);
