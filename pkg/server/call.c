#include "server/call_internal.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <string.h>

#include "util/log.h"

void crisp_call_init(struct crisp_call *c, grpc_completion_queue *cq, void *app)
{
    memset(c, 0, sizeof(*c));
    c->cq = cq;
    c->app = app;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->request_metadata);
    crisp_arena_init(&c->arena);
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

/* Waits for the batch with this tag. The RECV_CLOSE_ON_SERVER batch may
 * complete meanwhile on the same queue; it is noted, not lost. */
static bool wait_for(struct crisp_call *c, void *tag)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            log_error("server", "%s: completion queue ended unexpectedly", crisp_call_method(c));
            return false;
        }
        if (ev.tag == &c->close_tag)
            c->close_pending = false;
        if (ev.tag == tag)
            return ev.success != 0;
    }
}

static bool run_batch(struct crisp_call *c, const grpc_op *ops, size_t n, void *tag)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        log_error("server", "%s: start batch: grpc call error %d", crisp_call_method(c), e);
        return false;
    }
    bool ok = wait_for(c, tag);
    if (!ok)
        atomic_store(&c->send_failed, true);
    return ok;
}

bool crisp_call_cancelled(struct crisp_call *call)
{
    return atomic_load(&call->send_failed) || (!call->close_pending && call->client_cancelled);
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

int crisp_call_send(struct crisp_call *call, const ProtobufCMessage *msg, struct crisp_err *err)
{
    grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
    op.data.send_message.send_message = pack_message(msg);
    int tag;
    bool ok = run_batch(call, &op, 1, &tag);
    grpc_byte_buffer_destroy(op.data.send_message.send_message);
    if (!ok)
        return crisp_errorf(err, GRPC_STATUS_CANCELLED, ECANCELED,
                            "%s: the client went away while the stream was sent",
                            crisp_call_method(call));
    return 0;
}

/* Receives the request and starts listening for the client's close. */
static bool receive_request(struct crisp_call *c, grpc_byte_buffer **payload)
{
    grpc_op ops[2] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_MESSAGE}};
    ops[1].data.recv_message.recv_message = payload;
    int tag;
    if (!run_batch(c, ops, 2, &tag))
        return false;
    grpc_op close_op = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
    close_op.data.recv_close_on_server.cancelled = &c->client_cancelled;
    grpc_call_error e = grpc_call_start_batch(c->call, &close_op, 1, &c->close_tag, NULL);
    if (e != GRPC_CALL_OK)
        log_error("server", "%s: start close batch: grpc call error %d", crisp_call_method(c), e);
    else
        c->close_pending = true;
    return true;
}

static ProtobufCMessage *decode_request(struct crisp_call *c, grpc_byte_buffer *payload,
                                        struct crisp_err *err)
{
    const ProtobufCMessageDescriptor *desc = c->route->method->input;
    if (!payload) {
        crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                     "%s: the client sent no request message, expected one %s",
                     c->route->method->name, desc->name);
        return NULL;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, payload)) {
        crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                     "%s: the request could not be decompressed", c->route->method->name);
        return NULL;
    }
    grpc_slice bytes = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    size_t len = GRPC_SLICE_LENGTH(bytes);
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, &c->arena.pb_allocator, len,
                                                      GRPC_SLICE_START_PTR(bytes));
    grpc_slice_unref(bytes);
    if (!msg)
        crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                     "%s: malformed request: %zu bytes that do not decode as a %s message",
                     c->route->method->name, len, desc->name);
    return msg;
}

static void unimplemented(struct crisp_call *c, struct crisp_err *err)
{
    if (c->route)
        crisp_errorf(err, GRPC_STATUS_UNIMPLEMENTED, ENOSYS, "crisp: %s is not implemented yet",
                     c->route->method->name);
    else
        crisp_errorf(err, GRPC_STATUS_UNIMPLEMENTED, ENOSYS,
                     "crisp: unknown method %.*s: not part of the CRI v1 services",
                     (int)GRPC_SLICE_LENGTH(c->details.method),
                     (const char *)GRPC_SLICE_START_PTR(c->details.method));
}

/* Runs the handler; returns the unary response to send, if any. */
static ProtobufCMessage *run_handler(struct crisp_call *c, grpc_byte_buffer *payload,
                                     struct crisp_err *err)
{
    if (!c->route || !c->route->handler) {
        unimplemented(c, err);
        return NULL;
    }
    ProtobufCMessage *req = decode_request(c, payload, err);
    if (!req)
        return NULL;
    const struct crisp_handler *h = c->route->handler;
    ProtobufCMessage *resp = NULL;
    int r = h->unary ? h->unary(c, req, &resp, err) : h->stream(c, req, err);
    if (r < 0)
        return NULL;
    if (h->unary && !resp)
        crisp_errorf(err, GRPC_STATUS_INTERNAL, EINVAL, "%s: handler produced no response",
                     c->route->method->name);
    return resp;
}

static void send_status(struct crisp_call *c, ProtobufCMessage *resp, const struct crisp_err *err)
{
    grpc_op ops[2];
    size_t n = 0;
    grpc_byte_buffer *bb = NULL;
    if (resp && err->code == GRPC_STATUS_OK) {
        bb = pack_message(resp);
        ops[n] = (grpc_op){.op = GRPC_OP_SEND_MESSAGE};
        ops[n++].data.send_message.send_message = bb;
    }
    grpc_slice details = grpc_slice_from_copied_string(err->msg);
    ops[n] = (grpc_op){.op = GRPC_OP_SEND_STATUS_FROM_SERVER};
    ops[n].data.send_status_from_server.status = err->code;
    ops[n++].data.send_status_from_server.status_details = &details;
    int tag;
    run_batch(c, ops, n, &tag);
    grpc_slice_unref(details);
    if (bb)
        grpc_byte_buffer_destroy(bb);
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

void crisp_call_serve(struct crisp_call *c)
{
    grpc_byte_buffer *payload = NULL;
    if (receive_request(c, &payload)) {
        struct crisp_err err;
        crisp_err_clear(&err);
        ProtobufCMessage *resp = run_handler(c, payload, &err);
        log_outcome(c, &err);
        send_status(c, resp, &err);
    }
    if (payload)
        grpc_byte_buffer_destroy(payload);
    if (c->close_pending)
        wait_for(c, &c->close_tag);
    grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->request_metadata);
    crisp_arena_release(&c->arena);
}
