/* Remote-command pieces shared by SPDY and WebSocket (pkg/stream/remote_command.c): protocol
 * versions, the exit status per version, the terminal-size parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "stream/remote_command.h"

static void versions(void **state)
{
    (void)state;
    assert_int_equal(crisp_rc_version("v5.channel.k8s.io"), 5);
    assert_int_equal(crisp_rc_version("v4.base64.channel.k8s.io"), 4);
    assert_int_equal(crisp_rc_version("v2.channel.k8s.io"), 2);
    assert_int_equal(crisp_rc_version("channel.k8s.io"), 1);
    assert_int_equal(crisp_rc_version(""), 1);
}

static void v4_status_is_a_metav1_status(void **state)
{
    (void)state;
    char *s = crisp_rc_status(4, 0, NULL);
    assert_string_equal(s, "{\"metadata\":{},\"status\":\"Success\"}");
    free(s);
    s = crisp_rc_status(4, 42, NULL);
    json_t *j = json_loads(s, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "Failure");
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "NonZeroExitCode");
    json_t *cause = json_array_get(json_object_get(json_object_get(j, "details"), "causes"), 0);
    assert_string_equal(json_string_value(json_object_get(cause, "reason")), "ExitCode");
    assert_string_equal(json_string_value(json_object_get(cause, "message")), "42");
    json_decref(j);
    free(s);
    struct crisp_err e = {.code = GRPC_STATUS_INTERNAL, .msg = "exec: boom"};
    s = crisp_rc_status(5, 0, &e);
    j = json_loads(s, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "InternalError");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "exec: boom");
    json_decref(j);
    free(s);
}

static void older_versions_write_text_on_failure_only(void **state)
{
    (void)state;
    assert_null(crisp_rc_status(3, 0, NULL));
    char *s = crisp_rc_status(2, 3, NULL);
    assert_string_equal(s, "command terminated with non-zero exit code: 3");
    free(s);
}

struct sizes {
    struct crisp_stream_io io;
    uint16_t w[8], h[8];
    int n;
};

static void record(struct crisp_stream_io *io, uint16_t w, uint16_t h)
{
    struct sizes *s = (struct sizes *)io;
    s->w[s->n] = w;
    s->h[s->n++] = h;
}

static const struct crisp_stream_io_ops recorder = {.resize = record};

static void resize_messages_split_and_concatenated(void **state)
{
    (void)state;
    struct sizes s = {.io.ops = &recorder};
    struct crisp_resize_parser p = {0};
    struct crisp_err err;
    const char *msg = "{\"Width\":80,\"Height\":24}{\"Width\":100, \"Height\":40}\n";
    for (size_t i = 0; msg[i]; i++) /* byte by byte: every split point */
        assert_int_equal(crisp_resize_feed(&p, msg + i, 1, &s.io, &err), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.w[0], 80);
    assert_int_equal(s.h[0], 24);
    assert_int_equal(s.w[1], 100);
    assert_int_equal(s.h[1], 40);
    /* before a backend exists, the last size is kept for it */
    struct crisp_resize_parser early = {0};
    assert_int_equal(crisp_resize_feed(&early, msg, strlen(msg), NULL, &err), 0);
    crisp_resize_apply_pending(&early, &s.io);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.w[2], 100);
}

static void malformed_resize_messages_fail(void **state)
{
    (void)state;
    const char *bad[] = {"[1,2]",
                         "{\"Width\":-1,\"Height\":2}",
                         "{\"Width\":70000,\"Height\":2}",
                         "{\"Width\":\"x\",\"Height\":2}",
                         "nonsense",
                         "{\"Height\":5}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct crisp_resize_parser p = {0};
        struct crisp_err err;
        assert_true(crisp_resize_feed(&p, bad[i], strlen(bad[i]), NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "resize"));
    }
    struct crisp_resize_parser p = {0};
    struct crisp_err err;
    char big[2048];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    assert_true(crisp_resize_feed(&p, big, sizeof(big), NULL, &err) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions),
        cmocka_unit_test(v4_status_is_a_metav1_status),
        cmocka_unit_test(older_versions_write_text_on_failure_only),
        cmocka_unit_test(resize_messages_split_and_concatenated),
        cmocka_unit_test(malformed_resize_messages_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
