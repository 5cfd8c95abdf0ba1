/* pkg/util: arena, errors, file helpers, log levels. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.pb-c.h"
#include "util/arena.h"
#include "util/deadline.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/wait_file.h"
#include "support_fs.h"

static void assert_all_bytes(const void *p, size_t len, unsigned char value)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != value)
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, b[i], value);
}

static void assert_max_aligned(const void *p)
{
    assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
}

/* ---- arena ---- */

static void test_arena_many_allocations_zeroed_aligned_distinct(void **state)
{
    (void)state;
    enum { N = 2000 };
    struct crisp_arena arena;
    crisp_arena_init(&arena);
    unsigned char **ptrs = calloc(N, sizeof(*ptrs));
    size_t *sizes = calloc(N, sizeof(*sizes));
    assert_non_null(ptrs);
    assert_non_null(sizes);
    for (size_t i = 0; i < N; i++) {
        sizes[i] = (i * 37) % 300 + 1; /* ~300 KB in all: many blocks */
        ptrs[i] = crisp_arena_alloc(&arena, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_max_aligned(ptrs[i]);
        assert_all_bytes(ptrs[i], sizes[i], 0);
        memset(ptrs[i], (int)(i % 255) + 1, sizes[i]);
    }
    /* No allocation overlaps another: every pattern survived. */
    for (size_t i = 0; i < N; i++)
        assert_all_bytes(ptrs[i], sizes[i], (unsigned char)(i % 255 + 1));
    crisp_arena_release(&arena);
    free(ptrs);
    free(sizes);
}

static void test_arena_large_allocation(void **state)
{
    (void)state;
    const size_t big = 100 * 1024;
    struct crisp_arena arena;
    crisp_arena_init(&arena);
    unsigned char *small = crisp_arena_alloc(&arena, 10);
    unsigned char *p = crisp_arena_alloc(&arena, big);
    assert_non_null(p);
    assert_max_aligned(p);
    assert_all_bytes(p, big, 0);
    memset(p, 0xff, big);
    unsigned char *q = crisp_arena_alloc(&arena, 64);
    assert_max_aligned(q);
    assert_all_bytes(q, 64, 0);
    assert_true(q + 64 <= p || q >= p + big);
    assert_true(small + 10 <= p || small >= p + big);
    assert_all_bytes(p, big, 0xff);
    crisp_arena_release(&arena);
}

static void test_arena_strdup_and_printf(void **state)
{
    (void)state;
    struct crisp_arena arena;
    crisp_arena_init(&arena);
    const char *src = "hello";
    char *copy = crisp_arena_strdup(&arena, src);
    assert_ptr_not_equal(copy, src);
    assert_string_equal(copy, "hello");
    assert_string_equal(crisp_arena_strdup(&arena, ""), "");
    assert_string_equal(crisp_arena_printf(&arena, "%s-%d", "x", 42), "x-42");

    char long_text[6000];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    char *s = crisp_arena_printf(&arena, "%s/%d", long_text, 7);
    assert_int_equal(strlen(s), sizeof(long_text) - 1 + 2);
    assert_int_equal(strncmp(s, long_text, sizeof(long_text) - 1), 0);
    assert_string_equal(s + sizeof(long_text) - 1, "/7");
    crisp_arena_release(&arena);
}

static void test_arena_typed_helpers(void **state)
{
    (void)state;
    struct crisp_arena arena;
    crisp_arena_init(&arena);
    long double *one = crisp_arena_new(&arena, long double);
    uint64_t *arr = crisp_arena_array(&arena, uint64_t, 1000);
    assert_max_aligned(one);
    assert_max_aligned(arr);
    assert_all_bytes(arr, 1000 * sizeof(*arr), 0);
    arr[999] = 1;
    *one = 1.5L;
    crisp_arena_release(&arena);
}

static void test_arena_release_then_reuse(void **state)
{
    (void)state;
    struct crisp_arena arena;
    crisp_arena_init(&arena);
    crisp_arena_release(&arena); /* empty arena */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++) {
            unsigned char *p = crisp_arena_alloc(&arena, 200);
            assert_all_bytes(p, 200, 0);
            memset(p, 0xee, 200);
        }
        crisp_arena_release(&arena);
        assert_null(arena.head);
    }
}

static void test_arena_protobuf_allocator(void **state)
{
    (void)state;
    Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
    req.version = "v1";
    uint8_t buf[64];
    size_t len = protobuf_c_message_pack(&req.base, buf);
    struct crisp_arena arena;
    crisp_arena_init(&arena);
    Runtime__V1__VersionRequest *out =
        runtime__v1__version_request__unpack(&arena.pb_allocator, len, buf);
    assert_non_null(out);
    assert_string_equal(out->version, "v1");
    runtime__v1__version_request__free_unpacked(out, &arena.pb_allocator); /* a no-op */
    crisp_arena_release(&arena); /* frees it all: ASan would report a leak otherwise */
}

/* ---- errors ---- */

/* An error followed by a guard, to see writes past the message buffer. */
struct guarded_err {
    struct crisp_err err;
    unsigned char guard[64];
};

static void guard_init(struct guarded_err *g)
{
    memset(g, 0, sizeof(*g));
    memset(g->guard, 0x5a, sizeof(g->guard));
}

static void assert_guard_intact(const struct guarded_err *g)
{
    assert_all_bytes(g->guard, sizeof(g->guard), 0x5a);
    assert_non_null(memchr(g->err.msg, '\0', sizeof(g->err.msg)));
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_errorf_sets_code_and_message(void **state)
{
    (void)state;
    struct crisp_err err = {0};
    assert_int_equal(crisp_errorf(&err, GRPC_STATUS_NOT_FOUND, ENOENT, "pod %s: %d", "p1", 3),
                     -ENOENT);
    assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
    assert_string_equal(err.msg, "pod p1: 3");
}

static void test_errorf_zero_errnum_returns_einval(void **state)
{
    (void)state;
    struct crisp_err err = {0};
    assert_int_equal(crisp_errorf(&err, GRPC_STATUS_INVALID_ARGUMENT, 0, "bad"), -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
}

static void test_errorf_null_err(void **state)
{
    (void)state;
    assert_int_equal(crisp_errorf(NULL, GRPC_STATUS_INTERNAL, EPERM, "x"), -EPERM);
    assert_int_equal(crisp_syserrf(NULL, EACCES, "x"), -EACCES);
    crisp_err_prefix(NULL, "ignored");
}

static void test_syserrf_appends_strerror(void **state)
{
    (void)state;
    struct crisp_err err = {0};
    assert_int_equal(crisp_syserrf(&err, ENOENT, "open %s", "/x"), -ENOENT);
    assert_int_equal(err.code, GRPC_STATUS_INTERNAL);
    char want[256];
    snprintf(want, sizeof(want), "open /x: %s", strerror(ENOENT));
    assert_string_equal(err.msg, want);
}

static void test_err_prefix_keeps_code(void **state)
{
    (void)state;
    struct crisp_err err = {0};
    crisp_errorf(&err, GRPC_STATUS_NOT_FOUND, ENOENT, "inner");
    crisp_err_prefix(&err, "outer %d", 1);
    assert_string_equal(err.msg, "outer 1: inner");
    assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
    crisp_err_prefix(&err, "top");
    assert_string_equal(err.msg, "top: outer 1: inner");
}

static void test_err_clear(void **state)
{
    (void)state;
    struct crisp_err err = {0};
    crisp_errorf(&err, GRPC_STATUS_INTERNAL, EIO, "boom");
    crisp_err_clear(&err);
    assert_int_equal(err.code, GRPC_STATUS_OK);
    assert_string_equal(err.msg, "");
}

static void test_errorf_long_message_truncated(void **state)
{
    (void)state;
    struct guarded_err g;
    guard_init(&g);
    char *text = repeat('m', 3000);
    crisp_errorf(&g.err, GRPC_STATUS_INTERNAL, EIO, "%s", text);
    assert_int_equal(strlen(g.err.msg), CRISP_ERR_MSG_MAX - 1);
    assert_guard_intact(&g);
    free(text);
}

static void test_syserrf_long_message_truncated(void **state)
{
    (void)state;
    for (size_t n = CRISP_ERR_MSG_MAX - 10; n <= CRISP_ERR_MSG_MAX + 10; n++) {
        struct guarded_err g;
        guard_init(&g);
        char *text = repeat('s', n);
        crisp_syserrf(&g.err, ENOENT, "%s", text);
        assert_int_equal(strlen(g.err.msg), CRISP_ERR_MSG_MAX - 1);
        size_t kept = n < CRISP_ERR_MSG_MAX - 1 ? n : CRISP_ERR_MSG_MAX - 1;
        assert_int_equal(strncmp(g.err.msg, text, kept), 0);
        assert_guard_intact(&g);
        free(text);
    }
}

static void test_err_prefix_long_prefix_truncated(void **state)
{
    (void)state;
    struct guarded_err g;
    guard_init(&g);
    crisp_errorf(&g.err, GRPC_STATUS_INTERNAL, EIO, "inner");
    char *prefix = repeat('p', 3000);
    crisp_err_prefix(&g.err, "%s", prefix);
    assert_int_equal(strlen(g.err.msg), CRISP_ERR_MSG_MAX - 1);
    assert_int_equal(strncmp(g.err.msg, prefix, CRISP_ERR_MSG_MAX - 3), 0);
    assert_guard_intact(&g);
    free(prefix);
}

static void test_err_prefix_drops_end_of_long_message(void **state)
{
    (void)state;
    struct guarded_err g;
    guard_init(&g);
    char *inner = repeat('i', CRISP_ERR_MSG_MAX - 1);
    crisp_errorf(&g.err, GRPC_STATUS_INTERNAL, EIO, "%s", inner);
    crisp_err_prefix(&g.err, "outer");
    assert_int_equal(strlen(g.err.msg), CRISP_ERR_MSG_MAX - 1);
    assert_int_equal(strncmp(g.err.msg, "outer: iii", 10), 0);
    assert_guard_intact(&g);
    free(inner);
}

static void test_err_prefix_boundary_lengths(void **state)
{
    (void)state;
    for (size_t plen = CRISP_ERR_MSG_MAX - 4; plen <= CRISP_ERR_MSG_MAX + 1; plen++) {
        struct guarded_err g;
        guard_init(&g);
        crisp_errorf(&g.err, GRPC_STATUS_INTERNAL, EIO, "inner");
        char *prefix = repeat('p', plen);
        crisp_err_prefix(&g.err, "%s", prefix);
        assert_true(strlen(g.err.msg) <= CRISP_ERR_MSG_MAX - 1);
        assert_guard_intact(&g);
        free(prefix);
    }
}

/* ---- files ---- */

struct tmpdir {
    char path[64];
};

static int tmpdir_setup(void **state)
{
    struct tmpdir *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    strcpy(t->path, "/tmp/crisp-test-util-XXXXXX");
    if (!mkdtemp(t->path)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmpdir_teardown(void **state)
{
    struct tmpdir *t = *state;
    int r = sup_remove_tree(t->path);
    free(t);
    return r;
}

static void path_in(const struct tmpdir *t, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", t->path, name);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_or_fail(const char *path, const void *data, size_t len, mode_t mode)
{
    struct crisp_err err = {0};
    if (crisp_write_file_atomic(path, data, len, mode, &err) < 0)
        fail_msg("write %s: %s", path, err.msg);
}

static void test_write_then_read_round_trip(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "f.json", path, sizeof(path));
    write_or_fail(path, "{\"a\":1}\n", 8, 0640);
    char *data = NULL;
    size_t len = 0;
    struct crisp_err err = {0};
    assert_int_equal(crisp_read_file(path, 1 << 20, &data, &len, &err), 0);
    assert_int_equal(len, 8);
    assert_string_equal(data, "{\"a\":1}\n");
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_write_replaces_and_leaves_no_temp_file(void **state)
{
    struct tmpdir *t = *state;
    char path[PATH_MAX];
    path_in(t, "f", path, sizeof(path));
    write_or_fail(path, "first version", 13, 0600);
    write_or_fail(path, "2nd", 3, 0600);
    assert_int_equal(count_entries(t->path), 1);
    char *data = NULL;
    struct crisp_err err = {0};
    assert_int_equal(crisp_read_file(path, 100, &data, NULL, &err), 0);
    assert_string_equal(data, "2nd");
    free(data);
}

static void test_round_trip_binary_and_large(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "big", path, sizeof(path));
    enum { LEN = 70000 }; /* several growth steps of the read buffer */
    unsigned char *in = malloc(LEN);
    assert_non_null(in);
    for (size_t i = 0; i < LEN; i++)
        in[i] = (unsigned char)(i * 7);
    write_or_fail(path, in, LEN, 0600);
    char *out = NULL;
    size_t len = 0;
    struct crisp_err err = {0};
    assert_int_equal(crisp_read_file(path, 1 << 20, &out, &len, &err), 0);
    assert_int_equal(len, LEN);
    assert_memory_equal(out, in, LEN);
    assert_int_equal(out[LEN], '\0');
    free(out);
    free(in);
}

static void test_round_trip_empty_file(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "empty", path, sizeof(path));
    write_or_fail(path, "", 0, 0600);
    char *out = NULL;
    size_t len = 1;
    struct crisp_err err = {0};
    assert_int_equal(crisp_read_file(path, 16, &out, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_write_into_missing_dir_fails(void **state)
{
    struct tmpdir *t = *state;
    char path[PATH_MAX];
    path_in(t, "no/such/f", path, sizeof(path));
    struct crisp_err err = {0};
    assert_int_equal(crisp_write_file_atomic(path, "x", 1, 0600, &err), -ENOENT);
    assert_int_equal(err.code, GRPC_STATUS_INTERNAL);
    sup_assert_contains(err.msg, path);
    assert_int_equal(count_entries(t->path), 0);
}

static void test_read_missing_file_is_enoent(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "missing", path, sizeof(path));
    char *out = NULL;
    struct crisp_err err = {0};
    assert_int_equal(crisp_read_file(path, 100, &out, NULL, &err), -ENOENT);
    assert_null(out);
    sup_assert_contains(err.msg, path);
}

static void test_read_over_max_size_fails(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "f", path, sizeof(path));
    char *text = repeat('x', 10000);
    write_or_fail(path, text, 10000, 0600);
    char *out = NULL;
    struct crisp_err err = {0};
    int r = crisp_read_file(path, 5000, &out, NULL, &err);
    free(out);
    assert_int_equal(r, -EFBIG);
    sup_assert_contains(err.msg, path);
    free(text);
}

/* BUG (pkg/util/fs.c, crisp_read_file): the size check runs only when the
 * buffer is full, and the first buffer is 4096 bytes whatever max_size is, so
 * a max_size below 4096 is not enforced: a 100-byte file is returned whole
 * with max_size 10. */
static void test_read_over_small_max_size_fails(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "f", path, sizeof(path));
    char *text = repeat('x', 100);
    write_or_fail(path, text, 100, 0600);
    char *out = NULL;
    struct crisp_err err = {0};
    int r = crisp_read_file(path, 10, &out, NULL, &err);
    free(out);
    free(text);
    assert_int_equal(r, -EFBIG);
}

/* BUG (pkg/util/fs.c, crisp_read_file): "a whole file of at most max_size
 * bytes", but a file of exactly max_size bytes (max_size >= 4096) fills the
 * buffer, and a full buffer at max_size is refused before the read that would
 * see end of file. */
static void test_read_file_of_exactly_max_size_succeeds(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "f", path, sizeof(path));
    char *text = repeat('x', 5000);
    write_or_fail(path, text, 5000, 0600);
    char *out = NULL;
    size_t len = 0;
    struct crisp_err err = {0};
    int r = crisp_read_file(path, 5000, &out, &len, &err);
    free(out);
    free(text);
    if (r < 0)
        fail_msg("5000-byte file, max_size 5000: %s", err.msg);
    assert_int_equal(len, 5000);
}

static void test_mkdir_p_creates_nested_dirs(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "a/b/c", path, sizeof(path));
    struct crisp_err err = {0};
    assert_int_equal(crisp_mkdir_p(path, 0755, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(crisp_mkdir_p(path, 0755, &err), 0); /* again: already there */
}

static void test_mkdir_p_trailing_slash(void **state)
{
    char path[PATH_MAX];
    path_in(*state, "x/y/", path, sizeof(path));
    struct crisp_err err = {0};
    assert_int_equal(crisp_mkdir_p(path, 0755, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_mkdir_p_through_regular_file_fails(void **state)
{
    char file[PATH_MAX], path[PATH_MAX];
    path_in(*state, "file", file, sizeof(file));
    path_in(*state, "file/sub", path, sizeof(path));
    write_or_fail(file, "x", 1, 0600);
    struct crisp_err err = {0};
    assert_int_equal(crisp_mkdir_p(path, 0755, &err), -ENOTDIR);
    sup_assert_contains(err.msg, "file");
}

static void test_mkdir_p_on_regular_file_fails(void **state)
{
    char file[PATH_MAX];
    path_in(*state, "file", file, sizeof(file));
    write_or_fail(file, "x", 1, 0600);
    struct crisp_err err = {0};
    assert_int_equal(crisp_mkdir_p(file, 0755, &err), -ENOTDIR);
    assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);
    sup_assert_contains(err.msg, file);
}

/* ---- log levels ---- */

static void test_log_level_parse_known_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum crisp_log_level level;
    } cases[] = {
        {"error", CRISP_LOG_ERROR},
        {"warn", CRISP_LOG_WARN},
        {"info", CRISP_LOG_INFO},
        {"debug", CRISP_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum crisp_log_level level = CRISP_LOG_ERROR;
        assert_int_equal(crisp_log_level_parse(cases[i].name, &level), 0);
        assert_int_equal(level, cases[i].level);
        assert_string_equal(crisp_log_level_name(level), cases[i].name);
    }
}

static void test_log_level_parse_refuses_others(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "INFO", "Info", "trace", "warning", "info ", "err"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum crisp_log_level level = CRISP_LOG_WARN;
        assert_int_equal(crisp_log_level_parse(bad[i], &level), -EINVAL);
        assert_int_equal(level, CRISP_LOG_WARN);
    }
}

static void test_log_enabled_follows_level(void **state)
{
    (void)state;
    crisp_log_set_level(CRISP_LOG_WARN);
    assert_true(crisp_log_enabled(CRISP_LOG_ERROR));
    assert_true(crisp_log_enabled(CRISP_LOG_WARN));
    assert_false(crisp_log_enabled(CRISP_LOG_INFO));
    crisp_log_set_level(CRISP_LOG_DEBUG);
    assert_true(crisp_log_enabled(CRISP_LOG_DEBUG));
    crisp_log_set_level(CRISP_LOG_INFO);
}

/* ---- deadline ---- */

static void test_poll_until_ready_fd(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(crisp_poll_until(p[0], POLLIN, crisp_monotonic_ms() + 1000), 1);
    /* ready counts even once the deadline has passed */
    assert_int_equal(crisp_poll_until(p[0], POLLIN, crisp_monotonic_ms() - 1), 1);
    close(p[0]);
    close(p[1]);
}

static void test_poll_until_times_out_at_the_deadline(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int64_t start = crisp_monotonic_ms();
    assert_int_equal(crisp_poll_until(p[0], POLLIN, start + 100), -ETIMEDOUT);
    int64_t took = crisp_monotonic_ms() - start;
    assert_true(took >= 100 && took < 5000);
    assert_int_equal(crisp_poll_until(p[0], POLLIN, start), -ETIMEDOUT); /* already past */
    close(p[0]);
    close(p[1]);
}

static void test_poll_until_hangup_is_ready(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[1]); /* EOF: the caller's read sees it */
    assert_int_equal(crisp_poll_until(p[0], POLLIN, crisp_monotonic_ms() + 1000), 1);
    close(p[0]);
}

static void test_ms_until_clamps(void **state)
{
    (void)state;
    int64_t now = crisp_monotonic_ms();
    assert_int_equal(crisp_ms_until(now - 5), 0);
    assert_int_equal(crisp_ms_until(INT64_MAX), INT_MAX);
    int left = crisp_ms_until(now + 10000);
    assert_true(left > 9000 && left <= 10000);
}

/* ---- waiting for a file ---- */

struct delayed_rename {
    char from[128], to[128];
};

static void *rename_later(void *arg)
{
    struct delayed_rename *d = arg;
    usleep(100 * 1000);
    if (rename(d->from, d->to) < 0)
        abort();
    return NULL;
}

static void test_wait_for_file_sees_a_rename_into_place(void **state)
{
    struct tmpdir *t = *state;
    struct delayed_rename d;
    path_in(t, "exit.json.tmp", d.from, sizeof(d.from));
    path_in(t, "exit.json", d.to, sizeof(d.to));
    write_or_fail(d.from, "{}", 2, 0644);
    assert_false(crisp_wait_for_file(t->path, "exit.json", 0));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, rename_later, &d), 0);
    int64_t start = crisp_monotonic_ms();
    assert_true(crisp_wait_for_file(t->path, "exit.json", 30000));
    assert_true(crisp_monotonic_ms() - start < 20000); /* woken, not timed out */
    pthread_join(th, NULL);
    assert_true(crisp_wait_for_file(t->path, "exit.json", 0)); /* there already */
}

static void test_wait_for_file_times_out(void **state)
{
    struct tmpdir *t = *state;
    int64_t start = crisp_monotonic_ms();
    assert_false(crisp_wait_for_file(t->path, "never", 150));
    assert_true(crisp_monotonic_ms() - start >= 150);
    char missing[128];
    path_in(t, "no-such-dir", missing, sizeof(missing));
    assert_false(crisp_wait_for_file(missing, "x", 50));
}

#define T(name) cmocka_unit_test_setup_teardown(name, tmpdir_setup, tmpdir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_many_allocations_zeroed_aligned_distinct),
        cmocka_unit_test(test_arena_large_allocation),
        cmocka_unit_test(test_arena_strdup_and_printf),
        cmocka_unit_test(test_arena_typed_helpers),
        cmocka_unit_test(test_arena_release_then_reuse),
        cmocka_unit_test(test_arena_protobuf_allocator),
        cmocka_unit_test(test_errorf_sets_code_and_message),
        cmocka_unit_test(test_errorf_zero_errnum_returns_einval),
        cmocka_unit_test(test_errorf_null_err),
        cmocka_unit_test(test_syserrf_appends_strerror),
        cmocka_unit_test(test_err_prefix_keeps_code),
        cmocka_unit_test(test_err_clear),
        cmocka_unit_test(test_errorf_long_message_truncated),
        cmocka_unit_test(test_syserrf_long_message_truncated),
        cmocka_unit_test(test_err_prefix_long_prefix_truncated),
        cmocka_unit_test(test_err_prefix_drops_end_of_long_message),
        cmocka_unit_test(test_err_prefix_boundary_lengths),
        T(test_write_then_read_round_trip),
        T(test_write_replaces_and_leaves_no_temp_file),
        T(test_round_trip_binary_and_large),
        T(test_round_trip_empty_file),
        T(test_write_into_missing_dir_fails),
        T(test_read_missing_file_is_enoent),
        T(test_read_over_max_size_fails),
        T(test_mkdir_p_creates_nested_dirs),
        T(test_mkdir_p_trailing_slash),
        T(test_mkdir_p_through_regular_file_fails),
        T(test_mkdir_p_on_regular_file_fails),
        cmocka_unit_test(test_log_level_parse_known_names),
        cmocka_unit_test(test_log_level_parse_refuses_others),
        cmocka_unit_test(test_log_enabled_follows_level),
        cmocka_unit_test(test_poll_until_ready_fd),
        cmocka_unit_test(test_poll_until_times_out_at_the_deadline),
        cmocka_unit_test(test_poll_until_hangup_is_ready),
        cmocka_unit_test(test_ms_until_clamps),
        T(test_read_over_small_max_size_fails),
        T(test_read_file_of_exactly_max_size_succeeds),
        T(test_wait_for_file_sees_a_rename_into_place),
        T(test_wait_for_file_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
