#define _GNU_SOURCE
#include "server/server.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "server/call_internal.h"
#include "server/listen_lock.h"
#include "util/deadline.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/thread.h"

/* Calls ready for a handler, in arrival order. */
struct work_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct crisp_call *head, *tail;
    bool closed;
};

struct crisp_server {
    grpc_server *server;
    grpc_completion_queue *cq; /* every call and notification */
    struct crisp_routes routes;
    pthread_t loop_thread;
    bool loop_started;
    pthread_t *workers;
    size_t n_workers, n_started;
    size_t n_requests; /* grpc_server_request_call kept outstanding */
    struct work_queue queue;
    char *socket_path;
    int lock_fd;
    long long shutdown_timeout_seconds;
    void *app;
    atomic_bool stopping;
    int shutdown_tag;
    atomic_int live_calls; /* requested or running, not yet freed */
    /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool shutdown_done;
    int own_thread_calls;
};

static void queue_push(struct work_queue *q, struct crisp_call *c)
{
    pthread_mutex_lock(&q->lock);
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

/* Blocks for the next call; NULL once the queue is closed and empty. */
static struct crisp_call *queue_pop(struct work_queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->closed)
        pthread_cond_wait(&q->ready, &q->lock);
    struct crisp_call *c = q->head;
    if (c) {
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return c;
}

static void queue_close(struct work_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static void *worker_main(void *arg)
{
    struct crisp_server *srv = arg;
    struct crisp_call *c;
    while ((c = queue_pop(&srv->queue)))
        crisp_call_run_handler(c);
    return NULL;
}

static void request_call(struct crisp_server *srv)
{
    struct crisp_call *c = crisp_call_new(srv->cq, srv->app, &srv->live_calls);
    grpc_call_error e =
        grpc_server_request_call(srv->server, &c->call, &c->details, &c->request_metadata, srv->cq,
                                 srv->cq, &c->tags[TAG_NEW]);
    if (e != GRPC_CALL_OK) {
        log_error("server", "request call: grpc call error %d", e);
        crisp_call_unref(c);
    }
}

struct own_thread_call {
    struct crisp_server *srv;
    struct crisp_call *call;
};

static void *own_thread_main(void *arg)
{
    struct own_thread_call *otc = arg;
    struct crisp_server *srv = otc->srv;
    crisp_call_run_handler(otc->call);
    free(otc);
    pthread_mutex_lock(&srv->lock);
    srv->own_thread_calls--;
    pthread_cond_broadcast(&srv->changed);
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* A long-lived stream gets a thread of its own so it never holds a worker. */
static void dispatch_own_thread(struct crisp_server *srv, struct crisp_call *c)
{
    struct own_thread_call *otc = crisp_xmalloc(sizeof(*otc));
    *otc = (struct own_thread_call){.srv = srv, .call = c};
    pthread_mutex_lock(&srv->lock);
    srv->own_thread_calls++;
    pthread_mutex_unlock(&srv->lock);
    int r = crisp_thread_start_detached(own_thread_main, otc);
    if (r != 0) {
        log_warn("server", "%s: no thread for a long-lived call (%s); queueing it",
                 crisp_call_method(c), strerror(r));
        free(otc);
        pthread_mutex_lock(&srv->lock);
        srv->own_thread_calls--;
        pthread_mutex_unlock(&srv->lock);
        queue_push(&srv->queue, c);
    }
}

static void on_new_call(struct crisp_server *srv, struct crisp_call *c, bool success)
{
    if (!success) { /* the server is shutting down */
        crisp_call_unref(c);
        return;
    }
    if (!atomic_load(&srv->stopping))
        request_call(srv);
    c->route = crisp_routes_find(&srv->routes, c->details.method);
    crisp_call_accepted(c);
}

static void on_request_received(struct crisp_server *srv, struct crisp_call *c, bool success)
{
    if (!crisp_call_received(c, success))
        return;
    if (c->route->handler->inline_ok)
        crisp_call_run_handler(c);
    else if (c->route->handler->own_thread)
        dispatch_own_thread(srv, c);
    else
        queue_push(&srv->queue, c);
}

static void on_shutdown_done(struct crisp_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->shutdown_done = true;
    pthread_cond_broadcast(&srv->changed);
    pthread_mutex_unlock(&srv->lock);
}

/* The event loop: every grpc completion arrives here and is only routed,
 * never waited on, so slow clients cost nothing but memory. */
static void *loop_main(void *arg)
{
    struct crisp_server *srv = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.tag == &srv->shutdown_tag) {
            on_shutdown_done(srv);
            continue;
        }
        struct call_tag *tag = ev.tag;
        bool ok = ev.success != 0;
        switch (tag->kind) {
        case TAG_NEW:
            on_new_call(srv, tag->call, ok);
            break;
        case TAG_RECV:
            on_request_received(srv, tag->call, ok);
            break;
        case TAG_SEND:
            crisp_call_send_completed(tag->call, ok);
            break;
        case TAG_CLOSE:
            crisp_call_close_completed(tag->call);
            break;
        case TAG_FINISH:
            crisp_call_unref(tag->call);
            break;
        case TAG_COUNT:
            break;
        }
    }
}

static int create_grpc_server(struct crisp_server *srv, const struct crisp_server_options *opts,
                              struct crisp_err *err)
{
    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER,
         .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = (int)opts->max_recv_message_size},
        {.type = GRPC_ARG_INTEGER,
         .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
         .value.integer = -1},
    };
    grpc_channel_args channel_args = {.num_args = 2, .args = args};
    srv->server = grpc_server_create(&channel_args, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
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

static int start_threads(struct crisp_server *srv, struct crisp_err *err)
{
    for (; srv->n_started < srv->n_workers; srv->n_started++) {
        int r = pthread_create(&srv->workers[srv->n_started], NULL, worker_main, srv);
        if (r != 0)
            return crisp_syserrf(err, r, "start worker thread %zu", srv->n_started);
    }
    for (size_t i = 0; i < srv->n_requests; i++)
        request_call(srv);
    int r = pthread_create(&srv->loop_thread, NULL, loop_main, srv);
    if (r != 0)
        return crisp_syserrf(err, r, "start event loop thread");
    srv->loop_started = true;
    return 0;
}

int crisp_server_start(const struct crisp_server_options *opts, struct crisp_server **out,
                       struct crisp_err *err)
{
    struct crisp_server *srv = crisp_xcalloc(1, sizeof(*srv));
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->changed, NULL);
    pthread_mutex_init(&srv->queue.lock, NULL);
    pthread_cond_init(&srv->queue.ready, NULL);
    srv->socket_path = crisp_xstrdup(opts->socket_path);
    srv->shutdown_timeout_seconds = opts->shutdown_timeout_seconds;
    srv->app = opts->app;
    srv->n_workers = (size_t)opts->workers;
    srv->n_requests = srv->n_workers < 8 ? 8 : srv->n_workers;
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
        r = start_threads(srv, err);
    if (r < 0) {
        crisp_server_stop(srv);
        return r;
    }
    log_info("server", "serving CRI v1 on %s with %zu workers", srv->socket_path, srv->n_workers);
    *out = srv;
    return 0;
}

/* True once every call is answered and freed (the requests left outstanding fail at the
 * shutdown and go too). Caller holds srv->lock. */
static bool calls_done_locked(struct crisp_server *srv)
{
    return atomic_load(&srv->live_calls) == 0 && srv->own_thread_calls == 0;
}

/* Stops taking calls and waits for in-flight ones up to the timeout, then cancels what is
 * left. grpc reports the shutdown only once every connection is gone too, and a client may
 * keep an idle one open after the GOAWAY: once no call is left, the connections are dropped
 * (grpc_server_cancel_all_calls disconnects them). Needs the event loop running. */
static void drain_calls(struct crisp_server *srv)
{
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    int64_t deadline = crisp_monotonic_ms() + srv->shutdown_timeout_seconds * 1000;
    pthread_mutex_lock(&srv->lock);
    while (!srv->shutdown_done && !calls_done_locked(srv) && crisp_monotonic_ms() < deadline) {
        struct timespec slice;
        clock_gettime(CLOCK_REALTIME, &slice);
        slice.tv_nsec += 20 * 1000 * 1000; /* the call count has no signal of its own */
        if (slice.tv_nsec >= 1000000000L) {
            slice.tv_sec++;
            slice.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->changed, &srv->lock, &slice);
    }
    if (!srv->shutdown_done) {
        if (!calls_done_locked(srv))
            log_warn("server", "calls still running after %llds; cancelling them",
                     srv->shutdown_timeout_seconds);
        grpc_server_cancel_all_calls(srv->server);
        while (!srv->shutdown_done)
            pthread_cond_wait(&srv->changed, &srv->lock);
    }
    while (srv->own_thread_calls > 0)
        pthread_cond_wait(&srv->changed, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
}

static void stop_threads(struct crisp_server *srv)
{
    queue_close(&srv->queue);
    for (size_t i = 0; i < srv->n_started; i++)
        pthread_join(srv->workers[i], NULL);
    if (srv->cq)
        grpc_completion_queue_shutdown(srv->cq);
    if (srv->loop_started)
        pthread_join(srv->loop_thread, NULL);
    else if (srv->cq) /* drain it here instead */
        while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
}

void crisp_server_stop(struct crisp_server *srv)
{
    if (!srv)
        return;
    bool was_serving = srv->loop_started;
    atomic_store(&srv->stopping, true);
    if (srv->loop_started)
        drain_calls(srv);
    else if (srv->server)
        grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    stop_threads(srv);
    if (srv->server)
        grpc_server_destroy(srv->server);
    if (srv->cq)
        grpc_completion_queue_destroy(srv->cq);
    crisp_routes_free(&srv->routes);
    if (srv->lock_fd >= 0)
        crisp_listen_unlock(srv->socket_path, srv->lock_fd);
    free(srv->workers);
    free(srv->socket_path);
    pthread_mutex_destroy(&srv->queue.lock);
    pthread_cond_destroy(&srv->queue.ready);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->changed);
    free(srv);
    grpc_shutdown();
    if (was_serving)
        log_info("server", "stopped");
}
