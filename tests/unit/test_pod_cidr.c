/* UpdateRuntimeConfig's pod CIDR validation (pkg/cri/runtime_config.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cri/runtime_config.h"

static void assert_accepted(const char *cidr)
{
    struct crisp_err err = {0};
    int r = crisp_pod_cidr_validate(cidr, &err);
    if (r != 0)
        fail_msg("\"%s\" refused: %s", cidr, err.msg);
}

static void assert_refused(const char *cidr)
{
    struct crisp_err err = {0};
    int r = crisp_pod_cidr_validate(cidr, &err);
    if (r >= 0)
        fail_msg("\"%s\" accepted", cidr);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (strncmp(err.msg, "pod_cidr:", strlen("pod_cidr:")) != 0)
        fail_msg("message for \"%s\" does not start with pod_cidr: \"%s\"", cidr, err.msg);
}

static void test_accepts_empty(void **state)
{
    (void)state;
    assert_accepted("");
}

static void test_accepts_ipv4(void **state)
{
    (void)state;
    assert_accepted("10.88.0.0/16");
}

static void test_accepts_ipv4_zero_prefix(void **state)
{
    (void)state;
    assert_accepted("0.0.0.0/0");
}

static void test_accepts_ipv4_max_prefix(void **state)
{
    (void)state;
    assert_accepted("10.88.0.1/32");
}

static void test_accepts_ipv6(void **state)
{
    (void)state;
    assert_accepted("fd00::/64");
}

static void test_accepts_ipv6_max_prefix(void **state)
{
    (void)state;
    assert_accepted("fd00::1/128");
}

static void test_accepts_dual_stack(void **state)
{
    (void)state;
    assert_accepted("10.88.0.0/16,fd00::/64");
}

static void test_refuses_address_without_prefix(void **state)
{
    (void)state;
    assert_refused("10.88.0.0");
}

static void test_refuses_ipv4_prefix_33(void **state)
{
    (void)state;
    assert_refused("10.88.0.0/33");
}

static void test_refuses_ipv6_prefix_129(void **state)
{
    (void)state;
    assert_refused("fd00::/129");
}

static void test_refuses_short_ipv4(void **state)
{
    (void)state;
    assert_refused("10.88.0/16");
}

static void test_refuses_non_address(void **state)
{
    (void)state;
    assert_refused("abc/8");
}

static void test_refuses_trailing_comma(void **state)
{
    (void)state;
    assert_refused("10.0.0.0/8,");
}

static void test_refuses_leading_comma(void **state)
{
    (void)state;
    assert_refused(",10.0.0.0/8");
}

static void test_refuses_three_cidrs(void **state)
{
    (void)state;
    assert_refused("10.0.0.0/8,fd00::/64,10.1.0.0/16");
}

static void test_refuses_negative_prefix(void **state)
{
    (void)state;
    assert_refused("10.0.0.0/-1");
}

static void test_refuses_empty_prefix(void **state)
{
    (void)state;
    assert_refused("10.0.0.0/");
}

static void test_refuses_prefix_with_junk(void **state)
{
    (void)state;
    assert_refused("10.0.0.0/8x");
}

static void test_refuses_overlong_input(void **state)
{
    (void)state;
    char cidr[256];
    memset(cidr, '1', sizeof(cidr) - 1);
    cidr[sizeof(cidr) - 1] = '\0';
    assert_refused(cidr);
}

static void test_null_err_is_allowed(void **state)
{
    (void)state;
    assert_int_equal(crisp_pod_cidr_validate("10.0.0.0/33", NULL), -EINVAL);
}

/* BUG (pkg/cri/runtime_config.c, validate_one_cidr: strtol on the prefix):
 * strtol skips leading white space and takes a sign, so "/ 8", "/+8" are
 * accepted and persisted although they are not CIDRs (Go's net.ParseCIDR, and
 * so the kubelet, refuses them). Fails until the prefix is parsed as digits only. */
static void test_refuses_prefix_with_sign_or_space(void **state)
{
    (void)state;
    assert_refused("10.0.0.0/+8");
    assert_refused("10.0.0.0/ 8");
    assert_refused("fd00::/\t64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_empty),
        cmocka_unit_test(test_accepts_ipv4),
        cmocka_unit_test(test_accepts_ipv4_zero_prefix),
        cmocka_unit_test(test_accepts_ipv4_max_prefix),
        cmocka_unit_test(test_accepts_ipv6),
        cmocka_unit_test(test_accepts_ipv6_max_prefix),
        cmocka_unit_test(test_accepts_dual_stack),
        cmocka_unit_test(test_refuses_address_without_prefix),
        cmocka_unit_test(test_refuses_ipv4_prefix_33),
        cmocka_unit_test(test_refuses_ipv6_prefix_129),
        cmocka_unit_test(test_refuses_short_ipv4),
        cmocka_unit_test(test_refuses_non_address),
        cmocka_unit_test(test_refuses_trailing_comma),
        cmocka_unit_test(test_refuses_leading_comma),
        cmocka_unit_test(test_refuses_three_cidrs),
        cmocka_unit_test(test_refuses_negative_prefix),
        cmocka_unit_test(test_refuses_empty_prefix),
        cmocka_unit_test(test_refuses_prefix_with_junk),
        cmocka_unit_test(test_refuses_overlong_input),
        cmocka_unit_test(test_null_err_is_allowed),
        cmocka_unit_test(test_refuses_prefix_with_sign_or_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
