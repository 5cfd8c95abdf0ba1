/*
 * rpc_bench: latency and throughput benchmark for crispd's unary CRI calls.
 *
 * Each client thread owns a channel and a completion queue and issues calls
 * back-to-back with an empty request (a valid empty protobuf message). Only the
 * status code is checked, so this program does not depend on any repo code.
 *
 * Usage: rpc_bench --socket PATH [--method Version|Status] [--clients N]
 *                  [--calls-per-client M] [--warmup K]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#define CALL_TIMEOUT_S 30
#define MAX_CLIENTS    4096

struct options {
    const char *socket_path;
    const char *method;
    long clients;
    long calls_per_client;
    long warmup;
};

/* Per-thread state; latencies has calls_per_client entries (µs). */
struct client {
    pthread_t thread;
    const struct options *opts;
    pthread_barrier_t *start;
    char *target;
    char *rpc_path;
    uint64_t *latencies;
    long errors;
    grpc_status_code first_error;
    char first_error_details[256];
};

struct results {
    long calls;
    long errors;
    uint64_t p50;
    uint64_t p99;
    uint64_t max;
    double calls_per_sec;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: rpc_bench --socket PATH [--method Version|Status] [--clients N]\n"
                 "                 [--calls-per-client M] [--warmup K]\n");
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_option(int opt, const char *arg, struct options *o)
{
    switch (opt) {
    case 's':
        o->socket_path = arg;
        return true;
    case 'm':
        o->method = arg;
        return strcmp(arg, "Version") == 0 || strcmp(arg, "Status") == 0;
    case 'c':
        return parse_long(arg, 1, MAX_CLIENTS, &o->clients);
    case 'n':
        return parse_long(arg, 1, 100000000, &o->calls_per_client);
    case 'w':
        return parse_long(arg, 0, 100000000, &o->warmup);
    default:
        return false;
    }
}

/* Returns 0 on success, 1 on a usage error, -1 when help was requested. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"method", required_argument, NULL, 'm'},
        {"clients", required_argument, NULL, 'c'},
        {"calls-per-client", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.method = "Version", .clients = 1, .calls_per_client = 1000};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'h')
            return -1;
        if (opt == '?')
            return 1; /* getopt_long already said why */
        if (!parse_option(opt, optarg, o)) {
            fprintf(stderr, "rpc_bench: invalid value '%s'\n", optarg);
            return 1;
        }
    }
    if (optind != argc || o->socket_path == NULL) {
        fprintf(stderr, "rpc_bench: --socket is required and no positional args are allowed\n");
        return 1;
    }
    return 0;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL) {
        fprintf(stderr, "rpc_bench: out of memory\n");
        exit(2);
    }
    return p;
}

static char *xstrcat2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = xcalloc(la + lb + 1, 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    return s;
}

static void record_error(struct client *c, grpc_status_code status, grpc_slice details)
{
    if (c->errors++ > 0)
        return;
    c->first_error = status;
    size_t n = GRPC_SLICE_LENGTH(details);
    if (n >= sizeof c->first_error_details)
        n = sizeof c->first_error_details - 1;
    memcpy(c->first_error_details, GRPC_SLICE_START_PTR(details), n);
    c->first_error_details[n] = '\0';
}

/* State of one unary call's single batch. */
struct call_ops {
    grpc_metadata_array initial_md;
    grpc_metadata_array trailing_md;
    grpc_byte_buffer *request;
    grpc_byte_buffer *response;
    grpc_status_code status;
    grpc_slice details;
};

static void call_ops_init(struct call_ops *ops)
{
    memset(ops, 0, sizeof *ops);
    grpc_metadata_array_init(&ops->initial_md);
    grpc_metadata_array_init(&ops->trailing_md);
    ops->request = grpc_raw_byte_buffer_create(NULL, 0);
    ops->details = grpc_empty_slice();
}

static void call_ops_destroy(struct call_ops *ops)
{
    grpc_metadata_array_destroy(&ops->initial_md);
    grpc_metadata_array_destroy(&ops->trailing_md);
    grpc_byte_buffer_destroy(ops->request);
    if (ops->response != NULL)
        grpc_byte_buffer_destroy(ops->response);
    grpc_slice_unref(ops->details);
}

static size_t fill_batch(grpc_op *op, struct call_ops *ops)
{
    memset(op, 0, 6 * sizeof *op);
    op[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    op[1].op = GRPC_OP_SEND_MESSAGE;
    op[1].data.send_message.send_message = ops->request;
    op[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    op[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    op[3].data.recv_initial_metadata.recv_initial_metadata = &ops->initial_md;
    op[4].op = GRPC_OP_RECV_MESSAGE;
    op[4].data.recv_message.recv_message = &ops->response;
    op[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op[5].data.recv_status_on_client.trailing_metadata = &ops->trailing_md;
    op[5].data.recv_status_on_client.status = &ops->status;
    op[5].data.recv_status_on_client.status_details = &ops->details;
    return 6;
}

/*
 * Runs the batch and waits for it; returns false if it could not be started or
 * did not complete (the status is then meaningless).
 */
static bool run_batch(grpc_call *call, grpc_completion_queue *cq, struct call_ops *ops)
{
    grpc_op op[6];
    size_t n = fill_batch(op, ops);
    void *tag = ops;
    if (grpc_call_start_batch(call, op, n, tag, NULL) != GRPC_CALL_OK)
        return false;
    /* Plucking with an infinite deadline is safe: the call has its own deadline. */
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.tag == tag && ev.success;
}

/* One unary call with an empty request; returns true on status OK. */
static bool do_call(struct client *c, grpc_channel *ch, grpc_completion_queue *cq)
{
    grpc_slice method = grpc_slice_from_static_string(c->rpc_path);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                         gpr_time_from_seconds(CALL_TIMEOUT_S, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                               deadline, NULL);
    struct call_ops ops;
    call_ops_init(&ops);
    bool completed = run_batch(call, cq, &ops);
    bool ok = completed && ops.status == GRPC_STATUS_OK;
    if (!ok)
        record_error(c, completed ? ops.status : GRPC_STATUS_INTERNAL,
                     completed ? ops.details : grpc_slice_from_static_string("batch failed"));
    call_ops_destroy(&ops);
    grpc_call_unref(call);
    return ok;
}

/* Drains and destroys a pluck CQ, as required before grpc_completion_queue_destroy. */
static void destroy_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(c->target, creds, NULL);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);

    /* Warmup calls connect the channel and warm caches; their errors still count. */
    for (long i = 0; i < c->opts->warmup; i++)
        do_call(c, ch, cq);
    /* Measured calls of all clients start together, after everyone's warmup. */
    pthread_barrier_wait(c->start);
    for (long i = 0; i < c->opts->calls_per_client; i++) {
        uint64_t t0 = now_ns();
        do_call(c, ch, cq);
        c->latencies[i] = (now_ns() - t0) / 1000;
    }
    destroy_cq(cq);
    grpc_channel_destroy(ch);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t percentile(const uint64_t *sorted, long n, double p)
{
    long rank = (long)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static void compute_results(struct client *clients, const struct options *o, uint64_t elapsed_ns,
                            struct results *r)
{
    long per = o->calls_per_client;
    r->calls = o->clients * per;
    uint64_t *all = xcalloc((size_t)r->calls, sizeof *all);
    r->errors = 0;
    for (long i = 0; i < o->clients; i++) {
        memcpy(all + i * per, clients[i].latencies, (size_t)per * sizeof *all);
        r->errors += clients[i].errors;
    }
    qsort(all, (size_t)r->calls, sizeof *all, cmp_u64);
    r->p50 = percentile(all, r->calls, 50);
    r->p99 = percentile(all, r->calls, 99);
    r->max = all[r->calls - 1];
    r->calls_per_sec = (double)r->calls * 1e9 / (double)(elapsed_ns ? elapsed_ns : 1);
    free(all);
}

static void report_first_error(const struct client *clients, long n)
{
    for (long i = 0; i < n; i++) {
        if (clients[i].errors == 0)
            continue;
        fprintf(stderr, "rpc_bench: client %ld: first error: status %d: %s\n", i,
                (int)clients[i].first_error, clients[i].first_error_details);
        return;
    }
}

static void print_results(const struct options *o, const struct results *r)
{
    printf("method=%s clients=%ld calls=%ld errors=%ld p50_us=%" PRIu64 " p99_us=%" PRIu64
           " max_us=%" PRIu64 " calls_per_s=%.0f\n",
           o->method, o->clients, r->calls, r->errors, r->p50, r->p99, r->max, r->calls_per_sec);
}

static struct client *make_clients(const struct options *o)
{
    struct client *clients = xcalloc((size_t)o->clients, sizeof *clients);
    char *target = xstrcat2("unix:", o->socket_path);
    char *rpc_path = xstrcat2("/runtime.v1.RuntimeService/", o->method);
    for (long i = 0; i < o->clients; i++) {
        clients[i].opts = o;
        clients[i].target = target;
        clients[i].rpc_path = rpc_path;
        clients[i].latencies = xcalloc((size_t)o->calls_per_client, sizeof(uint64_t));
    }
    return clients;
}

static void free_clients(struct client *clients, long n)
{
    free(clients[0].target);
    free(clients[0].rpc_path);
    for (long i = 0; i < n; i++)
        free(clients[i].latencies);
    free(clients);
}

/*
 * Starts every client and waits for all; returns the wall-clock ns of the
 * measured phase, i.e. from the end of warmup (the barrier) to the last join.
 */
static uint64_t run_clients(struct client *clients, long n)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++) {
        clients[i].start = &start;
        int rc = pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
        if (rc != 0) {
            fprintf(stderr, "rpc_bench: pthread_create: %s\n", strerror(rc));
            exit(2);
        }
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        pthread_join(clients[i].thread, NULL);
    uint64_t elapsed = now_ns() - t0;
    pthread_barrier_destroy(&start);
    return elapsed;
}

int main(int argc, char **argv)
{
    struct options opts;
    int rc = parse_args(argc, argv, &opts);
    if (rc != 0) {
        usage(rc < 0 ? stdout : stderr);
        return rc < 0 ? 0 : 2;
    }
    grpc_init();
    struct client *clients = make_clients(&opts);
    uint64_t elapsed = run_clients(clients, opts.clients);
    struct results r;
    compute_results(clients, &opts, elapsed, &r);
    print_results(&opts, &r);
    report_first_error(clients, opts.clients);
    free_clients(clients, opts.clients);
    grpc_shutdown();
    return r.errors == 0 ? 0 : 1;
}
