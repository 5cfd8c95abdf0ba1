/* WebSocket framing (pkg/stream/ws_frame.c): masked client frames, lengths, the accept key,
 * and malformed frames that must fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/ws_frame.h"

/* A client frame: masked with a fixed key. */
static size_t client_frame(uint8_t *out, uint8_t first, const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t at = 0;
    out[at++] = first;
    if (len < 126) {
        out[at++] = 0x80 | (uint8_t)len;
    } else if (len <= 0xffff) {
        out[at++] = 0x80 | 126;
        out[at++] = (uint8_t)(len >> 8);
        out[at++] = (uint8_t)len;
    } else {
        out[at++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[at++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(out + at, key, 4);
    at += 4;
    for (size_t i = 0; i < len; i++)
        out[at + i] = ((const uint8_t *)payload)[i] ^ key[i % 4];
    return at + len;
}

static void accept_key_matches_rfc6455_example(void **state)
{
    (void)state;
    char out[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void masked_frames_of_every_length_form(void **state)
{
    (void)state;
    size_t sizes[] = {0, 5, 125, 126, 65535, 65536, 200000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint8_t *payload = malloc(n + 1), *buf = malloc(n + 16);
        for (size_t i = 0; i < n; i++)
            payload[i] = (uint8_t)(i * 7);
        size_t len = client_frame(buf, 0x82, payload, n);
        struct ws_frame f;
        struct crisp_err err;
        for (size_t cut = 0; cut < len && cut < 20; cut++)
            assert_int_equal(ws_frame_parse(buf, cut, &f, &err), 0);
        assert_int_equal(ws_frame_parse(buf, len, &f, &err), (long)len);
        assert_true(f.fin);
        assert_int_equal(f.opcode, WS_BINARY);
        assert_int_equal(f.len, n);
        if (n)
            assert_memory_equal(f.payload, payload, n);
        free(payload);
        free(buf);
    }
}

static void server_frames_are_unmasked_with_the_right_length(void **state)
{
    (void)state;
    struct crisp_buf b = {0};
    ws_put_frame(&b, WS_TEXT, "hi", 2);
    static const uint8_t small[] = {0x81, 2, 'h', 'i'};
    assert_memory_equal(b.data, small, sizeof(small));
    b.len = 0;
    char big[300] = {0};
    ws_put_frame(&b, WS_BINARY, big, sizeof(big));
    assert_int_equal(b.data[1], 126);
    assert_int_equal(b.data[2] << 8 | b.data[3], 300);
    assert_int_equal(b.len, 4 + 300);
    crisp_buf_free(&b);
}

static void expect_violation(uint8_t *buf, size_t len, const char *what)
{
    struct ws_frame f;
    struct crisp_err err;
    assert_true(ws_frame_parse(buf, len, &f, &err) < 0);
    assert_non_null(strstr(err.msg, what));
}

static void malformed_frames_fail_cleanly(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = client_frame(buf, 0x82, "x", 1);
    buf[1] &= 0x7f; /* unmasked */
    expect_violation(buf, n, "not masked");
    n = client_frame(buf, 0xC2, "x", 1); /* RSV1 */
    expect_violation(buf, n, "reserved bits");
    n = client_frame(buf, 0x83, "x", 1); /* opcode 3 */
    expect_violation(buf, n, "reserved opcode");
    n = client_frame(buf, 0x09, "x", 1); /* fragmented ping */
    expect_violation(buf, n, "control frame");
    char long_ping[126] = {0};
    uint8_t big[160];
    n = client_frame(big, 0x89, long_ping, sizeof(long_ping));
    expect_violation(big, n, "control frame");
    static uint8_t huge[14] = {0x82, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct ws_frame f;
    struct crisp_err err;
    assert_true(ws_frame_parse(huge, sizeof(huge), &f, &err) < 0);
    assert_int_equal(err.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_key_matches_rfc6455_example),
        cmocka_unit_test(masked_frames_of_every_length_form),
        cmocka_unit_test(server_frames_are_unmasked_with_the_right_length),
        cmocka_unit_test(malformed_frames_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
