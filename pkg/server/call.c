#include "server/call_internal.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/mem.h"

struct crisp_call *crisp_call_new(grpc_completion_queue *cq, void *app, atomic_int *live)
{
    struct crisp_call *c = crisp_xcalloc(1, sizeof(*c));
    c->cq = cq;
    c->app = app;
    c->live = live;
    atomic_fetch_add(live, 1);
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->request_metadata);
    crisp_arena_init(&c->arena);
    c->status_details = grpc_empty_slice();
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    for (int k = 0; k < TAG_COUNT; k++)
        c->tags[k] = (struct call_tag){.call = c, .kind = (enum call_tag_kind)k};
    return c;
}

void crisp_call_unref(struct crisp_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->request_metadata);
    if (c->request)
        grpc_byte_buffer_destroy(c->request);
    if (c->response)
        grpc_byte_buffer_destroy(c->response);
    grpc_slice_unref(c->status_details);
    crisp_arena_release(&c->arena);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    atomic_int *live = c->live;
    free(c);
    atomic_fetch_sub(live, 1);
}

void *crisp_call_app(struct crisp_call *call)
{
    return call->app;
}

struct crisp_arena *crisp_call_arena(struct crisp_call *call)
{
    return &call->arena;
}

const char *crisp_call_method(struct crisp_call *call)
{
    return call->route ? call->route->method->name : "unknown";
}

bool crisp_call_cancelled(struct crisp_call *call)
{
    return atomic_load(&call->batch_failed) ||
           (atomic_load(&call->closed) && call->client_cancelled);
}

/* Posts a batch that holds a reference until its completion. */
static bool start_batch(struct crisp_call *c, const grpc_op *ops, size_t n, enum call_tag_kind k)
{
    atomic_fetch_add(&c->refs, 1);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->tags[k], NULL);
    if (e == GRPC_CALL_OK)
        return true;
    log_error("server", "%s: start batch: grpc call error %d", crisp_call_method(c), e);
    atomic_store(&c->batch_failed, true);
    atomic_fetch_sub(&c->refs, 1);
    return false;
}

void crisp_call_accepted(struct crisp_call *c)
{
    grpc_op recv = {.op = GRPC_OP_RECV_MESSAGE};
    recv.data.recv_message.recv_message = &c->request;
    grpc_op close = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
    close.data.recv_close_on_server.cancelled = &c->client_cancelled;
    start_batch(c, &recv, 1, TAG_RECV);
    start_batch(c, &close, 1, TAG_CLOSE);
    crisp_call_unref(c); /* the TAG_NEW reference */
}

/* Initial metadata rides with the first outgoing op: one write less per call. */
static size_t add_headers(struct crisp_call *c, grpc_op *ops)
{
    if (c->headers_sent)
        return 0;
    c->headers_sent = true;
    ops[0] = (grpc_op){.op = GRPC_OP_SEND_INITIAL_METADATA};
    return 1;
}

static grpc_byte_buffer *pack_message(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    grpc_slice slice = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

static void log_outcome(struct crisp_call *c, const struct crisp_err *err)
{
    if (err->code == GRPC_STATUS_OK)
        log_debug("server", "%s: ok", crisp_call_method(c));
    else if (err->code == GRPC_STATUS_INTERNAL || err->code == GRPC_STATUS_UNKNOWN)
        log_error("server", "%s: code %d: %s", crisp_call_method(c), err->code, err->msg);
    else
        log_info("server", "%s: code %d: %s", crisp_call_method(c), err->code, err->msg);
}

/* Posts the reply (message when resp, then status) and drops the caller's
 * reference. */
static void finish(struct crisp_call *c, const ProtobufCMessage *resp, const struct crisp_err *err)
{
    log_outcome(c, err);
    grpc_op ops[3];
    size_t n = add_headers(c, ops);
    if (resp && err->code == GRPC_STATUS_OK) {
        c->response = pack_message(resp);
        ops[n] = (grpc_op){.op = GRPC_OP_SEND_MESSAGE};
        ops[n++].data.send_message.send_message = c->response;
    }
    c->status_details = grpc_slice_from_copied_string(err->msg);
    ops[n] = (grpc_op){.op = GRPC_OP_SEND_STATUS_FROM_SERVER};
    ops[n].data.send_status_from_server.status = err->code;
    ops[n++].data.send_status_from_server.status_details = &c->status_details;
    start_batch(c, ops, n, TAG_FINISH);
    crisp_call_unref(c);
}

static void finish_unimplemented(struct crisp_call *c)
{
    struct crisp_err err;
    if (c->route)
        crisp_errorf(&err, GRPC_STATUS_UNIMPLEMENTED, ENOSYS, "crisp: %s is not implemented yet",
                     c->route->method->name);
    else
        crisp_errorf(&err, GRPC_STATUS_UNIMPLEMENTED, ENOSYS,
                     "crisp: unknown method %.*s: not part of the CRI v1 services",
                     (int)GRPC_SLICE_LENGTH(c->details.method),
                     (const char *)GRPC_SLICE_START_PTR(c->details.method));
    finish(c, NULL, &err);
}

bool crisp_call_received(struct crisp_call *c, bool success)
{
    if (!success) {
        atomic_store(&c->batch_failed, true);
        crisp_call_unref(c);
        return false;
    }
    if (!c->route || !c->route->handler) {
        finish_unimplemented(c);
        return false;
    }
    return true;
}

static ProtobufCMessage *decode_request(struct crisp_call *c, struct crisp_err *err)
{
    const ProtobufCMessageDescriptor *desc = c->route->method->input;
    if (!c->request) {
        crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                     "%s: the client sent no request message, expected one %s",
                     c->route->method->name, desc->name);
        return NULL;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, c->request)) {
        crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                     "%s: the request could not be decompressed", c->route->method->name);
        return NULL;
    }
    grpc_slice bytes = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    size_t len = GRPC_SLICE_LENGTH(bytes);
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(desc, &c->arena.pb_allocator, len, GRPC_SLICE_START_PTR(bytes));
    grpc_slice_unref(bytes);
    if (!msg)
        crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                     "%s: malformed request: %zu bytes that do not decode as a %s message",
                     c->route->method->name, len, desc->name);
    return msg;
}

static crisp_call_observer observer;

void crisp_call_set_observer(crisp_call_observer fn)
{
    observer = fn;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void crisp_call_run_handler(struct crisp_call *c)
{
    int64_t start = observer ? monotonic_ns() : 0;
    struct crisp_err err;
    crisp_err_clear(&err);
    ProtobufCMessage *resp = NULL;
    ProtobufCMessage *req = decode_request(c, &err);
    const struct crisp_handler *h = c->route->handler;
    if (req) {
        int r = h->unary ? h->unary(c, req, &resp, &err) : h->stream(c, req, &err);
        if (r == 0) /* success is the return value; a handled lookup miss may have set err */
            crisp_err_clear(&err);
        if (r == 0 && h->unary && !resp)
            crisp_errorf(&err, GRPC_STATUS_INTERNAL, EINVAL, "%s: handler produced no response",
                         c->route->method->name);
        if (r < 0 && err.code == GRPC_STATUS_OK) /* a handler bug: never report success */
            crisp_errorf(&err, GRPC_STATUS_INTERNAL, -r, "%s failed without a message",
                         c->route->method->name);
    }
    if (observer)
        observer(c->route->index, c->route->method->name, err.code, monotonic_ns() - start);
    finish(c, resp, &err);
}

static int client_gone(struct crisp_call *call, struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_CANCELLED, ECANCELED,
                        "%s: the client went away while the stream was sent",
                        crisp_call_method(call));
}

/* Sends bb as the next stream message and waits for the send to complete. */
static int send_buffer(struct crisp_call *call, grpc_byte_buffer *bb, struct crisp_err *err)
{
    grpc_op ops[2];
    size_t n = add_headers(call, ops);
    ops[n] = (grpc_op){.op = GRPC_OP_SEND_MESSAGE};
    ops[n++].data.send_message.send_message = bb;
    pthread_mutex_lock(&call->lock);
    call->send_done = false;
    pthread_mutex_unlock(&call->lock);
    bool ok = start_batch(call, ops, n, TAG_SEND);
    pthread_mutex_lock(&call->lock);
    while (ok && !call->send_done)
        pthread_cond_wait(&call->cond, &call->lock);
    ok = ok && call->send_ok;
    pthread_mutex_unlock(&call->lock);
    grpc_byte_buffer_destroy(bb);
    return ok ? 0 : client_gone(call, err);
}

int crisp_call_send(struct crisp_call *call, const ProtobufCMessage *msg, struct crisp_err *err)
{
    if (crisp_call_cancelled(call))
        return client_gone(call, err);
    return send_buffer(call, pack_message(msg), err);
}

int crisp_call_send_packed(struct crisp_call *call, const uint8_t *bytes, size_t len,
                           struct crisp_err *err)
{
    if (crisp_call_cancelled(call))
        return client_gone(call, err);
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)bytes, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return send_buffer(call, bb, err);
}

void crisp_call_abort(struct crisp_call *call, grpc_status_code code, const char *message)
{
    grpc_call_cancel_with_status(call->call, code, message, NULL);
}

void crisp_call_send_completed(struct crisp_call *c, bool success)
{
    if (!success)
        atomic_store(&c->batch_failed, true);
    pthread_mutex_lock(&c->lock);
    c->send_done = true;
    c->send_ok = success;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    crisp_call_unref(c);
}

void crisp_call_close_completed(struct crisp_call *c)
{
    atomic_store(&c->closed, true);
    crisp_call_unref(c);
}
