/* runtime/cgroup_systemd_path.c: slice names expanded to cgroup paths the way
 * systemd does, bad names refused; scope names. (The D-Bus side is covered by
 * tests/integration/test_systemd_cgroup.py against a fake systemd.) */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/cgroup_systemd.h"

static void expands(const char *slice, const char *want)
{
    char *path = NULL;
    struct crisp_err err = {0};
    int r = crisp_systemd_slice_path(slice, &path, &err);
    if (r != 0)
        fail_msg("%s: %s", slice, err.msg);
    assert_string_equal(path, want);
    free(path);
}

static void refused(const char *slice, const char *why)
{
    char *path = NULL;
    struct crisp_err err = {0};
    assert_int_equal(crisp_systemd_slice_path(slice, &path, &err), -EINVAL);
    assert_null(path);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, why));
}

static void test_expansion(void **state)
{
    (void)state;
    expands("system.slice", "system.slice");
    expands("kubepods.slice", "kubepods.slice");
    expands("kubepods-burstable.slice", "kubepods.slice/kubepods-burstable.slice");
    expands("kubepods-burstable-pod0a1b_2c3d.slice",
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b_2c3d.slice");
    expands("a-b-c-d.slice", "a.slice/a-b.slice/a-b-c.slice/a-b-c-d.slice");
    expands("x_y.z.slice", "x_y.z.slice");
}

static void test_root(void **state)
{
    (void)state;
    expands("-.slice", "");
    expands("", "");
}

static void test_bad_names(void **state)
{
    (void)state;
    refused("/kubepods/burstable", "must end in \".slice\"");
    refused("kubepods", "must end in \".slice\"");
    refused(".slice", "must end in \".slice\"");
    refused("crisp-1.scope", "must end in \".slice\"");
    refused("a--b.slice", "empty");
    refused("-a.slice", "empty");
    refused("a-.slice", "empty");
    refused("a/b.slice", "only A-Z");
    refused("a b.slice", "only A-Z");
    refused("a:b.slice", "only A-Z");
    refused("a\\x2d.slice", "only A-Z");
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    strcpy(long_name + 250, ".slice");
    refused(long_name, "longer than 255");
}

static void test_scope_name(void **state)
{
    (void)state;
    char *name = crisp_systemd_scope_name("0123abcd");
    assert_string_equal(name, "crisp-0123abcd.scope");
    free(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expansion),
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_scope_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
