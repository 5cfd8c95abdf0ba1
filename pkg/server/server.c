#define _GNU_SOURCE
#include "server/server.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/call_internal.h"
#include "server/listen_lock.h"
#include "util/log.h"
#include "util/mem.h"

struct worker {
    struct crisp_server *srv;
    pthread_t thread;
    grpc_completion_queue *notify_cq; /* registered: new calls arrive here */
    grpc_completion_queue *call_cq;   /* bound to the call being served */
};

struct crisp_server {
    grpc_server *server;
    struct crisp_routes routes;
    struct worker *workers;
    size_t n_workers;
    char *socket_path;
    int lock_fd;
    long long shutdown_timeout_seconds;
    void *app;
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t own_threads_done;
    int own_thread_calls;
};

static grpc_completion_queue *new_cq(void)
{
    return grpc_completion_queue_create_for_next(NULL);
}

static void destroy_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

static void discard_unstarted_call(struct crisp_call *c)
{
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->request_metadata);
    free(c);
}

struct own_thread_call {
    struct crisp_server *srv;
    struct crisp_call *call;
};

static void *own_thread_main(void *arg)
{
    struct own_thread_call *otc = arg;
    struct crisp_server *srv = otc->srv;
    grpc_completion_queue *cq = otc->call->cq;
    crisp_call_serve(otc->call);
    free(otc->call);
    free(otc);
    destroy_cq(cq);
    pthread_mutex_lock(&srv->lock);
    if (--srv->own_thread_calls == 0)
        pthread_cond_broadcast(&srv->own_threads_done);
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* Hands a long-lived call, with its completion queue, to a thread of its own;
 * the worker continues with a fresh queue. */
static void serve_on_own_thread(struct worker *w, struct crisp_call *c)
{
    struct own_thread_call *otc = crisp_xmalloc(sizeof(*otc));
    otc->srv = w->srv;
    otc->call = c;
    w->call_cq = new_cq();
    pthread_mutex_lock(&w->srv->lock);
    w->srv->own_thread_calls++;
    pthread_mutex_unlock(&w->srv->lock);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int r = pthread_create(&t, &attr, own_thread_main, otc);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        log_warn("server", "%s: no thread for a long-lived call (%s); serving it on a worker",
                 crisp_call_method(c), strerror(r));
        own_thread_main(otc);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct crisp_server *srv = w->srv;
    while (!atomic_load(&srv->stopping)) {
        struct crisp_call *c = crisp_xmalloc(sizeof(*c));
        crisp_call_init(c, w->call_cq, srv->app);
        grpc_call_error e = grpc_server_request_call(srv->server, &c->call, &c->details,
                                                     &c->request_metadata, w->call_cq,
                                                     w->notify_cq, c);
        if (e != GRPC_CALL_OK) {
            log_error("server", "request call: grpc call error %d", e);
            discard_unstarted_call(c);
            break;
        }
        grpc_event ev =
            grpc_completion_queue_next(w->notify_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
            discard_unstarted_call(c); /* server shutting down */
            continue;
        }
        c->route = crisp_routes_find(&srv->routes, c->details.method);
        if (c->route && c->route->handler && c->route->handler->own_thread) {
            serve_on_own_thread(w, c);
            continue;
        }
        crisp_call_serve(c);
        free(c);
    }
    return NULL;
}

static int create_grpc_server(struct crisp_server *srv, const struct crisp_server_options *opts,
                              struct crisp_err *err)
{
    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER,
         .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = (int)opts->max_recv_message_size},
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = -1},
    };
    grpc_channel_args channel_args = {.num_args = 2, .args = args};
    srv->server = grpc_server_create(&channel_args, NULL);
    for (size_t i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        w->srv = srv;
        w->notify_cq = new_cq();
        w->call_cq = new_cq();
        grpc_server_register_completion_queue(srv->server, w->notify_cq, NULL);
    }
    char *address = crisp_xasprintf("unix:%s", opts->socket_path);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(srv->server, address, creds);
    grpc_server_credentials_release(creds);
    free(address);
    if (port == 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EADDRNOTAVAIL,
                            "cannot listen on unix socket %s (see the grpc log line above)",
                            opts->socket_path);
    grpc_server_start(srv->server);
    if (chmod(opts->socket_path, 0660) < 0)
        return crisp_syserrf(err, errno, "chmod 0660 %s", opts->socket_path);
    return 0;
}

static int start_workers(struct crisp_server *srv, struct crisp_err *err)
{
    for (size_t i = 0; i < srv->n_workers; i++) {
        int r = pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
        if (r != 0) {
            srv->n_workers = i; /* the started ones are joined on stop */
            return crisp_syserrf(err, r, "start worker thread %zu", i);
        }
    }
    return 0;
}

static void destroy_server(struct crisp_server *srv)
{
    if (srv->server)
        grpc_server_destroy(srv->server);
    for (size_t i = 0; srv->workers && i < srv->n_workers; i++) {
        if (srv->workers[i].notify_cq)
            destroy_cq(srv->workers[i].notify_cq);
        if (srv->workers[i].call_cq)
            destroy_cq(srv->workers[i].call_cq);
    }
    free(srv->workers);
    crisp_routes_free(&srv->routes);
    if (srv->lock_fd >= 0)
        crisp_listen_unlock(srv->socket_path, srv->lock_fd);
    free(srv->socket_path);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->own_threads_done);
    free(srv);
    grpc_shutdown();
}

int crisp_server_start(const struct crisp_server_options *opts, struct crisp_server **out,
                       struct crisp_err *err)
{
    struct crisp_server *srv = crisp_xcalloc(1, sizeof(*srv));
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->own_threads_done, NULL);
    srv->socket_path = crisp_xstrdup(opts->socket_path);
    srv->shutdown_timeout_seconds = opts->shutdown_timeout_seconds;
    srv->app = opts->app;
    srv->n_workers = (size_t)opts->workers;
    srv->workers = crisp_xcalloc(srv->n_workers, sizeof(*srv->workers));
    grpc_init();
    srv->lock_fd = crisp_listen_lock(opts->socket_path, err);
    int r = srv->lock_fd;
    if (r >= 0)
        r = crisp_routes_build(&srv->routes, opts->services, opts->n_services, opts->handlers,
                               opts->n_handlers, err);
    if (r >= 0)
        r = create_grpc_server(srv, opts, err);
    if (r >= 0)
        r = start_workers(srv, err);
    if (r < 0) {
        crisp_server_stop(srv);
        return r;
    }
    log_info("server", "serving CRI v1 on %s with %zu workers", srv->socket_path, srv->n_workers);
    *out = srv;
    return 0;
}

/* Waits for in-flight calls up to the timeout, then cancels what is left. */
static void drain_calls(struct crisp_server *srv)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    int tag;
    grpc_server_shutdown_and_notify(srv->server, cq, &tag);
    gpr_timespec deadline = gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC),
        gpr_time_from_seconds(srv->shutdown_timeout_seconds, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, deadline, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        log_warn("server", "calls still running after %llds; cancelling them",
                 srv->shutdown_timeout_seconds);
        grpc_server_cancel_all_calls(srv->server);
        grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(cq);
}

void crisp_server_stop(struct crisp_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    if (srv->server)
        drain_calls(srv);
    for (size_t i = 0; i < srv->n_workers; i++)
        if (srv->workers[i].thread)
            pthread_join(srv->workers[i].thread, NULL);
    pthread_mutex_lock(&srv->lock);
    while (srv->own_thread_calls > 0)
        pthread_cond_wait(&srv->own_threads_done, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    bool was_serving = srv->n_workers > 0 && srv->workers[0].thread;
    destroy_server(srv);
    if (was_serving)
        log_info("server", "stopped");
}
