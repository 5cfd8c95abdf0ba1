/* SPDY/3.1 framing and header compression (pkg/stream/spdy_frame.c): round trips, the
 * dictionary, and malformed input that must fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "stream/spdy_frame.h"

static void dictionary_is_the_spdy3_one(void **state)
{
    (void)state;
    uLong a = adler32(adler32(0, Z_NULL, 0), spdy_dictionary(), SPDY_DICT_LEN);
    assert_int_equal(a, 0xe3c6a7c2);
    assert_memory_equal(spdy_dictionary(), "\0\0\0\7options", 11);
}

static void headers_round_trip_through_one_zlib_stream(void **state)
{
    (void)state;
    struct spdy_zlib client, server;
    struct crisp_err err;
    assert_int_equal(spdy_zlib_init(&client, &err), 0);
    assert_int_equal(spdy_zlib_init(&server, &err), 0);
    for (int round = 0; round < 3; round++) { /* later blocks depend on the earlier ones */
        struct crisp_buf b = {0};
        const char *names[] = {"streamtype", "port"}, *values[] = {"data", "8080"};
        spdy_put_syn_stream(&client, &b, 1 + 2 * round, round == 2, names, values, 2);
        struct spdy_frame f;
        assert_int_equal(spdy_frame_parse(b.data, b.len, &f, &err), (long)b.len);
        assert_true(f.control);
        assert_int_equal(f.type, SPDY_SYN_STREAM);
        assert_int_equal(f.flags, round == 2 ? SPDY_FLAG_FIN : 0);
        struct spdy_headers hs;
        assert_int_equal(spdy_headers_decode(&server, f.payload + 10, f.len - 10, &hs, &err), 0);
        assert_string_equal(spdy_header_get(&hs, "streamtype"), "data");
        assert_string_equal(spdy_header_get(&hs, "port"), "8080");
        assert_null(spdy_header_get(&hs, "requestid"));
        spdy_headers_free(&hs);
        crisp_buf_free(&b);
    }
    spdy_zlib_free(&client);
    spdy_zlib_free(&server);
}

static void data_and_control_frames_have_spdy3_layout(void **state)
{
    (void)state;
    struct crisp_buf b = {0};
    struct crisp_err err;
    spdy_put_data(&b, 5, "hello", 5, true);
    static const uint8_t data[] = {0, 0, 0, 5, 1, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    assert_int_equal(b.len, sizeof(data));
    assert_memory_equal(b.data, data, sizeof(data));
    struct spdy_frame f;
    assert_int_equal(spdy_frame_parse(b.data, b.len, &f, &err), 13);
    assert_false(f.control);
    assert_int_equal(f.stream_id, 5);
    b.len = 0;
    spdy_put_ping(&b, 7);
    static const uint8_t ping[] = {0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 7};
    assert_memory_equal(b.data, ping, sizeof(ping));
    b.len = 0;
    spdy_put_rst_stream(&b, 3, SPDY_RST_PROTOCOL_ERROR);
    static const uint8_t rst[] = {0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 1};
    assert_memory_equal(b.data, rst, sizeof(rst));
    crisp_buf_free(&b);
}

static void partial_frames_need_more_bytes(void **state)
{
    (void)state;
    struct crisp_buf b = {0};
    struct crisp_err err;
    struct spdy_frame f;
    spdy_put_data(&b, 1, "abcdef", 6, false);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(spdy_frame_parse(b.data, n, &f, &err), 0);
    crisp_buf_free(&b);
}

static void malformed_frames_fail_cleanly(void **state)
{
    (void)state;
    struct crisp_err err;
    struct spdy_frame f;
    static const uint8_t v2[] = {0x80, 2, 0, 1, 0, 0, 0, 0};
    assert_true(spdy_frame_parse(v2, sizeof(v2), &f, &err) < 0);
    assert_non_null(strstr(err.msg, "version 2"));
    static const uint8_t huge[] = {0, 0, 0, 1, 0, 0xff, 0xff, 0xff};
    assert_true(spdy_frame_parse(huge, sizeof(huge), &f, &err) < 0);
    assert_int_equal(err.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
}

/* Compresses a raw name/value block the way a client would. */
static size_t deflate_block(const uint8_t *plain, size_t n, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    assert_int_equal(deflateInit(&z, Z_DEFAULT_COMPRESSION), Z_OK);
    deflateSetDictionary(&z, spdy_dictionary(), SPDY_DICT_LEN);
    z.next_in = (Bytef *)plain;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_SYNC_FLUSH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static int decode_raw(const uint8_t *plain, size_t n, struct crisp_err *err)
{
    uint8_t z[512];
    size_t zn = deflate_block(plain, n, z, sizeof(z));
    struct spdy_zlib s;
    assert_int_equal(spdy_zlib_init(&s, err), 0);
    struct spdy_headers hs;
    int r = spdy_headers_decode(&s, z, zn, &hs, err);
    if (r == 0)
        spdy_headers_free(&hs);
    spdy_zlib_free(&s);
    return r;
}

static void malformed_header_blocks_fail_cleanly(void **state)
{
    (void)state;
    struct crisp_err err;
    static const uint8_t truncated[] = {0, 0, 0, 1, 0, 0, 0, 10, 's', 't'};
    assert_true(decode_raw(truncated, sizeof(truncated), &err) < 0);
    assert_non_null(strstr(err.msg, "truncated"));
    static const uint8_t upper[] = {0, 0, 0, 1, 0, 0, 0, 1, 'A', 0, 0, 0, 0};
    assert_true(decode_raw(upper, sizeof(upper), &err) < 0);
    static const uint8_t empty_name[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_true(decode_raw(empty_name, sizeof(empty_name), &err) < 0);
    static const uint8_t too_many[] = {0, 0, 1, 0};
    assert_true(decode_raw(too_many, sizeof(too_many), &err) < 0);
    static const uint8_t huge_len[] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 'a'};
    assert_true(decode_raw(huge_len, sizeof(huge_len), &err) < 0);
    static const uint8_t trailing[] = {0, 0, 0, 0, 'x'};
    assert_true(decode_raw(trailing, sizeof(trailing), &err) < 0);
    static const uint8_t ok[] = {0, 0, 0, 1, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b'};
    assert_int_equal(decode_raw(ok, sizeof(ok), &err), 0);

    struct spdy_zlib s;
    assert_int_equal(spdy_zlib_init(&s, &err), 0);
    struct spdy_headers hs;
    static const uint8_t garbage[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
    assert_true(spdy_headers_decode(&s, garbage, sizeof(garbage), &hs, &err) < 0);
    assert_true(spdy_headers_decode(&s, garbage, 0, &hs, &err) < 0);
    spdy_zlib_free(&s);
}

static void a_header_bomb_is_bounded(void **state)
{
    (void)state;
    size_t n = 4 + 4 + 1 + 4 + 100000;
    uint8_t *plain = calloc(1, n);
    plain[3] = 1;
    plain[7] = 1;
    plain[8] = 'a';
    plain[9 + 1] = 0x01; /* value length 0x0186a0 = 100000 */
    plain[9 + 2] = 0x86;
    plain[9 + 3] = 0xa0;
    memset(plain + 13, 'x', 100000);
    uint8_t *z = malloc(n);
    size_t zn = deflate_block(plain, n, z, n);
    struct spdy_zlib s;
    struct crisp_err err;
    assert_int_equal(spdy_zlib_init(&s, &err), 0);
    struct spdy_headers hs;
    assert_true(spdy_headers_decode(&s, z, zn, &hs, &err) < 0);
    assert_int_equal(err.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
    spdy_zlib_free(&s);
    free(plain);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dictionary_is_the_spdy3_one),
        cmocka_unit_test(headers_round_trip_through_one_zlib_stream),
        cmocka_unit_test(data_and_control_frames_have_spdy3_layout),
        cmocka_unit_test(partial_frames_need_more_bytes),
        cmocka_unit_test(malformed_frames_fail_cleanly),
        cmocka_unit_test(malformed_header_blocks_fail_cleanly),
        cmocka_unit_test(a_header_bomb_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
