/* The server's call plumbing, in-process: server streams, own-thread streams,
 * client cancellation, slow handlers beside fast ones, shutdown with calls in
 * flight. A test handler table stands in for the CRI handlers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "cri/runtime.h"
#include "server/server.h"

static atomic_bool release_slow;
static atomic_bool events_saw_cancel;
static atomic_int events_running;

static int stream_three_images(struct crisp_call *call, const ProtobufCMessage *req,
                               struct crisp_err *err)
{
    (void)req;
    for (int i = 0; i < 3; i++) {
        Runtime__V1__Image img = RUNTIME__V1__IMAGE__INIT;
        img.id = crisp_arena_printf(crisp_call_arena(call), "sha256:%d", i);
        Runtime__V1__Image *imgs[] = {&img};
        Runtime__V1__StreamImagesResponse r = RUNTIME__V1__STREAM_IMAGES_RESPONSE__INIT;
        r.n_images = 1;
        r.images = imgs;
        int rc = crisp_call_send(call, &r.base, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Sends an event every 5 ms until the client goes away (bounded at 10 s). */
static int endless_events(struct crisp_call *call, const ProtobufCMessage *req,
                          struct crisp_err *err)
{
    (void)req;
    atomic_fetch_add(&events_running, 1);
    int rc = 0;
    for (int i = 0; i < 2000 && rc == 0; i++) {
        Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
        ev.container_id = "c1";
        ev.created_at = i;
        rc = crisp_call_send(call, &ev.base, err);
        usleep(5000);
    }
    if (rc < 0)
        atomic_store(&events_saw_cancel, true);
    atomic_fetch_sub(&events_running, 1);
    return rc;
}

static int respond_version(struct crisp_call *call, ProtobufCMessage **resp, const char *name)
{
    Runtime__V1__VersionResponse *v =
        crisp_arena_new(crisp_call_arena(call), Runtime__V1__VersionResponse);
    *v = (Runtime__V1__VersionResponse)RUNTIME__V1__VERSION_RESPONSE__INIT;
    v->runtime_name = (char *)name;
    *resp = &v->base;
    return 0;
}

static int slow_version(struct crisp_call *call, const ProtobufCMessage *req,
                        ProtobufCMessage **resp, struct crisp_err *err)
{
    (void)req;
    (void)err;
    for (int i = 0; i < 500 && !atomic_load(&release_slow); i++)
        usleep(10000);
    return respond_version(call, resp, "slow");
}

static int fast_status(struct crisp_call *call, const ProtobufCMessage *req,
                       ProtobufCMessage **resp, struct crisp_err *err)
{
    (void)req;
    (void)err;
    Runtime__V1__StatusResponse *s =
        crisp_arena_new(crisp_call_arena(call), Runtime__V1__StatusResponse);
    *s = (Runtime__V1__StatusResponse)RUNTIME__V1__STATUS_RESPONSE__INIT;
    *resp = &s->base;
    return 0;
}

static const struct crisp_handler test_handlers[] = {
    {.method = "StreamImages", .stream = stream_three_images},
    {.method = "GetContainerEvents", .stream = endless_events, .own_thread = true},
    {.method = "Version", .unary = slow_version},
    {.method = "Status", .unary = fast_status},
};

struct fixture {
    char dir[64];
    char socket[96];
    struct crisp_server *srv;
    grpc_channel *channel;
    grpc_completion_queue *cq;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/crisp-stream-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->socket, sizeof(f->socket), "%s/s.sock", f->dir);
    atomic_store(&release_slow, false);
    atomic_store(&events_saw_cancel, false);
    struct crisp_server_options opts = {
        .socket_path = f->socket,
        .workers = 2,
        .max_recv_message_size = 1 << 20,
        .shutdown_timeout_seconds = 1,
        .services = crisp_cri_services,
        .n_services = crisp_cri_n_services,
        .handlers = test_handlers,
        .n_handlers = sizeof(test_handlers) / sizeof(test_handlers[0]),
    };
    struct crisp_err err;
    assert_int_equal(crisp_server_start(&opts, &f->srv, &err), 0);
    grpc_init();
    char target[128];
    snprintf(target, sizeof(target), "unix:%s", f->socket);
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    f->channel = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    f->cq = grpc_completion_queue_create_for_pluck(NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    atomic_store(&release_slow, true);
    grpc_channel_destroy(f->channel);
    crisp_server_stop(f->srv);
    grpc_completion_queue_shutdown(f->cq);
    grpc_completion_queue_pluck(f->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_destroy(f->cq);
    grpc_shutdown();
    char lock[128];
    snprintf(lock, sizeof(lock), "%s.lock", f->socket);
    unlink(lock);
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static gpr_timespec seconds_from_now(int s)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(s, GPR_TIMESPAN));
}

static bool run_batch(struct fixture *f, grpc_call *call, const grpc_op *ops, size_t n, void *tag)
{
    assert_int_equal(grpc_call_start_batch(call, ops, n, tag, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(f->cq, tag, seconds_from_now(10), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    return ev.success != 0;
}

/* Starts a call and sends an empty request with the client's half-close. */
static grpc_call *start_call(struct fixture *f, const char *method)
{
    grpc_slice path = grpc_slice_from_static_string(method);
    grpc_call *call =
        grpc_channel_create_call(f->channel, NULL, GRPC_PROPAGATE_DEFAULTS, f->cq, path, NULL,
                                 gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_byte_buffer *empty = grpc_raw_byte_buffer_create(NULL, 0);
    grpc_op ops[3] = {{.op = GRPC_OP_SEND_INITIAL_METADATA},
                      {.op = GRPC_OP_SEND_MESSAGE},
                      {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT}};
    ops[1].data.send_message.send_message = empty;
    int tag;
    assert_true(run_batch(f, call, ops, 3, &tag));
    grpc_byte_buffer_destroy(empty);
    return call;
}

/* Receives one message; false at the end of the stream. */
static bool recv_message(struct fixture *f, grpc_call *call, bool first)
{
    grpc_metadata_array md;
    grpc_metadata_array_init(&md);
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    size_t n = 0;
    if (first) {
        ops[n] = (grpc_op){.op = GRPC_OP_RECV_INITIAL_METADATA};
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &md;
    }
    ops[n] = (grpc_op){.op = GRPC_OP_RECV_MESSAGE};
    ops[n++].data.recv_message.recv_message = &bb;
    int tag;
    run_batch(f, call, ops, n, &tag);
    grpc_metadata_array_destroy(&md);
    if (!bb)
        return false;
    grpc_byte_buffer_destroy(bb);
    return true;
}

static grpc_status_code recv_status(struct fixture *f, grpc_call *call)
{
    grpc_metadata_array trailing;
    grpc_metadata_array_init(&trailing);
    grpc_status_code status;
    grpc_slice details;
    grpc_op op = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
    op.data.recv_status_on_client.trailing_metadata = &trailing;
    op.data.recv_status_on_client.status = &status;
    op.data.recv_status_on_client.status_details = &details;
    int tag;
    assert_true(run_batch(f, call, &op, 1, &tag));
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&trailing);
    return status;
}

static void test_server_stream_sends_every_message_then_ok(void **state)
{
    struct fixture *f = *state;
    grpc_call *call = start_call(f, "/runtime.v1.ImageService/StreamImages");
    int received = 0;
    while (recv_message(f, call, received == 0))
        received++;
    assert_int_equal(received, 3);
    assert_int_equal(recv_status(f, call), GRPC_STATUS_OK);
    grpc_call_unref(call);
}

static void wait_until(atomic_bool *flag)
{
    for (int i = 0; i < 500 && !atomic_load(flag); i++)
        usleep(10000);
}

static void test_client_cancel_ends_an_own_thread_stream(void **state)
{
    struct fixture *f = *state;
    grpc_call *call = start_call(f, "/runtime.v1.RuntimeService/GetContainerEvents");
    for (int i = 0; i < 3; i++)
        assert_true(recv_message(f, call, i == 0));
    grpc_call_cancel(call, NULL);
    assert_int_equal(recv_status(f, call), GRPC_STATUS_CANCELLED);
    grpc_call_unref(call);
    wait_until(&events_saw_cancel);
    assert_true(atomic_load(&events_saw_cancel));
}

/* Two workers, two endless streams: the streams run on threads of their own,
 * so a unary call still finds a worker. */
static void test_streams_do_not_hold_the_worker(void **state)
{
    struct fixture *f = *state;
    grpc_call *s1 = start_call(f, "/runtime.v1.RuntimeService/GetContainerEvents");
    grpc_call *s2 = start_call(f, "/runtime.v1.RuntimeService/GetContainerEvents");
    assert_true(recv_message(f, s1, true));
    assert_true(recv_message(f, s2, true));
    grpc_call *status = start_call(f, "/runtime.v1.RuntimeService/Status");
    assert_true(recv_message(f, status, true));
    assert_int_equal(recv_status(f, status), GRPC_STATUS_OK);
    grpc_call_unref(status);
    grpc_call_cancel(s1, NULL);
    grpc_call_cancel(s2, NULL);
    recv_status(f, s1);
    recv_status(f, s2);
    grpc_call_unref(s1);
    grpc_call_unref(s2);
}

/* A slow handler holds one worker; a call on the other is answered meanwhile. */
static void test_slow_call_does_not_block_others(void **state)
{
    struct fixture *f = *state;
    grpc_call *slow = start_call(f, "/runtime.v1.RuntimeService/Version");
    usleep(20000);
    grpc_call *status = start_call(f, "/runtime.v1.RuntimeService/Status");
    assert_true(recv_message(f, status, true));
    assert_int_equal(recv_status(f, status), GRPC_STATUS_OK);
    grpc_call_unref(status);
    assert_false(atomic_load(&release_slow)); /* the slow one is still running */
    atomic_store(&release_slow, true);
    assert_true(recv_message(f, slow, true));
    assert_int_equal(recv_status(f, slow), GRPC_STATUS_OK);
    grpc_call_unref(slow);
}

/* Teardown stops the server while this stream is open: the shutdown timeout
 * (1 s) cancels it and stop returns. */
static void test_stop_cancels_open_streams(void **state)
{
    struct fixture *f = *state;
    grpc_call *call = start_call(f, "/runtime.v1.RuntimeService/GetContainerEvents");
    assert_true(recv_message(f, call, true));
    time_t start = time(NULL);
    crisp_server_stop(f->srv);
    f->srv = NULL;
    assert_true(time(NULL) - start <= 5);
    assert_true(atomic_load(&events_saw_cancel));
    assert_int_equal(atomic_load(&events_running), 0);
    while (recv_message(f, call, false)) {
    }
    assert_int_not_equal(recv_status(f, call), GRPC_STATUS_OK);
    grpc_call_unref(call);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_stream_sends_every_message_then_ok, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_cancel_ends_an_own_thread_stream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_streams_do_not_hold_the_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_call_does_not_block_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_cancels_open_streams, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
