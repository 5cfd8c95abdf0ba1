/* The counters and the exposition text. */
#define _GNU_SOURCE
#include "metrics/metrics.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_CODES 17 /* gRPC status codes 0..16 */

static const double rpc_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
#define N_RPC_BUCKETS (sizeof(rpc_buckets) / sizeof(rpc_buckets[0]))
static const double pull_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
#define N_PULL_BUCKETS (sizeof(pull_buckets) / sizeof(pull_buckets[0]))

static const char *const code_names[N_CODES] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

/* Bucket counts are not cumulative here; the text sums them. */
struct histogram {
    atomic_uint_least64_t buckets[16];
    atomic_uint_least64_t count, sum_ns;
};

struct rpc_slot {
    _Atomic(const char *) method; /* set by the first call */
    atomic_uint_least64_t by_code[N_CODES];
    struct histogram latency;
};

static struct rpc_slot rpcs[CRISP_METRICS_MAX_ROUTES];
static atomic_uint_least64_t pull_bytes, pulls_ok, pulls_failed;
static struct histogram pull_latency;

static void histogram_add(struct histogram *h, const double *bounds, size_t n, int64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < n && s > bounds[i])
        i++;
    if (i < n)
        atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
}

void crisp_metrics_observe_rpc(size_t route, const char *method, grpc_status_code code, int64_t ns)
{
    if (route >= CRISP_METRICS_MAX_ROUTES)
        return;
    struct rpc_slot *s = &rpcs[route];
    if (!atomic_load_explicit(&s->method, memory_order_relaxed))
        atomic_store(&s->method, method);
    unsigned c = (unsigned)code < N_CODES ? (unsigned)code : GRPC_STATUS_UNKNOWN;
    atomic_fetch_add_explicit(&s->by_code[c], 1, memory_order_relaxed);
    histogram_add(&s->latency, rpc_buckets, N_RPC_BUCKETS, ns);
}

void crisp_metrics_add_pull_bytes(uint64_t bytes)
{
    atomic_fetch_add_explicit(&pull_bytes, bytes, memory_order_relaxed);
}

void crisp_metrics_observe_pull(int64_t ns, bool ok)
{
    atomic_fetch_add_explicit(ok ? &pulls_ok : &pulls_failed, 1, memory_order_relaxed);
    histogram_add(&pull_latency, pull_buckets, N_PULL_BUCKETS, ns);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram_text(FILE *f, const char *name, const char *labels, const struct histogram *h,
                           const double *bounds, size_t n)
{
    uint64_t cumulative = 0;
    const char *sep = *labels ? "," : "";
    for (size_t i = 0; i < n; i++) {
        cumulative += atomic_load(&h->buckets[i]);
        fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
                (unsigned long long)cumulative);
    }
    uint64_t count = atomic_load(&h->count);
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)count);
    char braced[160] = "";
    if (*labels)
        snprintf(braced, sizeof(braced), "{%s}", labels);
    fprintf(f, "%s_sum%s %.9f\n", name, braced, (double)atomic_load(&h->sum_ns) / 1e9);
    fprintf(f, "%s_count%s %llu\n", name, braced, (unsigned long long)count);
}

static void rpc_text(FILE *f)
{
    header(f, "crisp_grpc_requests_total", "counter",
           "CRI calls handled, by method and gRPC status code.");
    uint64_t errors[N_CODES] = {0};
    for (size_t r = 0; r < CRISP_METRICS_MAX_ROUTES; r++) {
        const char *m = atomic_load(&rpcs[r].method);
        for (unsigned c = 0; m && c < N_CODES; c++) {
            uint64_t v = atomic_load(&rpcs[r].by_code[c]);
            if (v)
                fprintf(f, "crisp_grpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n", m,
                        code_names[c], (unsigned long long)v);
            if (c != GRPC_STATUS_OK)
                errors[c] += v;
        }
    }
    header(f, "crisp_grpc_errors_total", "counter", "CRI calls that failed, by gRPC status code.");
    for (unsigned c = 1; c < N_CODES; c++)
        fprintf(f, "crisp_grpc_errors_total{code=\"%s\"} %llu\n", code_names[c],
                (unsigned long long)errors[c]);
    header(f, "crisp_grpc_request_duration_seconds", "histogram",
           "Time CRI handlers took, by method.");
    for (size_t r = 0; r < CRISP_METRICS_MAX_ROUTES; r++) {
        const char *m = atomic_load(&rpcs[r].method);
        if (!m)
            continue;
        char labels[128];
        snprintf(labels, sizeof(labels), "method=\"%s\"", m);
        histogram_text(f, "crisp_grpc_request_duration_seconds", labels, &rpcs[r].latency,
                       rpc_buckets, N_RPC_BUCKETS);
    }
}

static void pull_text(FILE *f)
{
    header(f, "crisp_image_pull_bytes_total", "counter",
           "Bytes received from registries (manifests, configs, layers).");
    fprintf(f, "crisp_image_pull_bytes_total %llu\n", (unsigned long long)atomic_load(&pull_bytes));
    header(f, "crisp_image_pulls_total", "counter", "PullImage calls, by result.");
    fprintf(f, "crisp_image_pulls_total{result=\"ok\"} %llu\n",
            (unsigned long long)atomic_load(&pulls_ok));
    fprintf(f, "crisp_image_pulls_total{result=\"error\"} %llu\n",
            (unsigned long long)atomic_load(&pulls_failed));
    header(f, "crisp_image_pull_duration_seconds", "histogram", "Time PullImage took.");
    histogram_text(f, "crisp_image_pull_duration_seconds", "", &pull_latency, pull_buckets,
                   N_PULL_BUCKETS);
}

static uint64_t resident_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the fd of this listing */
}

static void gauge(FILE *f, const char *name, const char *help, const char *labels, uint64_t v)
{
    if (help)
        header(f, name, "gauge", help);
    fprintf(f, "%s%s %llu\n", name, labels, (unsigned long long)v);
}

static void gauges_text(FILE *f, crisp_metrics_gauge_fn fn, void *ctx)
{
    struct crisp_metrics_gauges g = {0};
    if (fn)
        fn(ctx, &g);
    gauge(f, "crisp_pods", "Pod sandboxes, by state.", "{state=\"ready\"}", g.pods_ready);
    gauge(f, "crisp_pods", NULL, "{state=\"notready\"}", g.pods_notready);
    gauge(f, "crisp_containers", "Containers, by state.", "{state=\"created\"}",
          g.containers_created);
    gauge(f, "crisp_containers", NULL, "{state=\"running\"}", g.containers_running);
    gauge(f, "crisp_containers", NULL, "{state=\"exited\"}", g.containers_exited);
    gauge(f, "crisp_monitors", "crisp-monitor processes alive.", "", g.monitors);
    gauge(f, "crisp_event_subscribers", "GetContainerEvents streams open.", "",
          g.event_subscribers);
    gauge(f, "process_resident_memory_bytes", "crispd's resident memory.", "", resident_bytes());
    gauge(f, "process_open_fds", "crispd's open file descriptors.", "", open_fds());
}

char *crisp_metrics_render(crisp_metrics_gauge_fn gauges, void *ctx)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort(); /* allocation failure, like crisp_x* */
    rpc_text(f);
    pull_text(f);
    gauges_text(f, gauges, ctx);
    fclose(f);
    return text;
}
