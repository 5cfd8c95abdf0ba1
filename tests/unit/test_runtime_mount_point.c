/* runtime/mount_point: the mount point of the mount holding a path, found by statx mount ids.
 * Reads the host's own mounts (/, /proc, /dev); no privileges needed. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/mount_point.h"

static void expect_mount_point(const char *path, const char *want)
{
    char out[4096];
    struct crisp_err err = {0};
    assert_int_equal(crisp_rt_mount_point_of(path, out, sizeof(out), &err), 0);
    assert_string_equal(out, want);
}

static void test_root_is_its_own_mount_point(void **state)
{
    (void)state;
    expect_mount_point("/", "/");
}

static void test_a_mount_point_is_its_own(void **state)
{
    (void)state;
    expect_mount_point("/proc", "/proc");
}

static void test_a_path_below_climbs_to_its_mount(void **state)
{
    (void)state;
    expect_mount_point("/proc/self/fd", "/proc");
}

static void test_missing_path_and_short_buffer_fail(void **state)
{
    (void)state;
    char out[4];
    struct crisp_err err = {0};
    assert_true(crisp_rt_mount_point_of("/nonexistent-crisp-path", out, sizeof(out), &err) < 0);
    assert_non_null(strstr(err.msg, "/nonexistent-crisp-path"));
    assert_int_equal(crisp_rt_mount_point_of("/proc", out, sizeof(out), &err), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_is_its_own_mount_point),
        cmocka_unit_test(test_a_mount_point_is_its_own),
        cmocka_unit_test(test_a_path_below_climbs_to_its_mount),
        cmocka_unit_test(test_missing_path_and_short_buffer_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
