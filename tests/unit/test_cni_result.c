/* CNI result parsing and the pod's IPs (pkg/network/cni_result.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "network/cni_result.h"

/* A bridge + loopback result as Debian's plugins print it (1.0.0). */
static const char bridge_result[] =
    "{\"cniVersion\":\"1.0.0\",\"interfaces\":["
    "{\"name\":\"cni0\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
    "{\"name\":\"veth1\",\"mac\":\"aa:bb:cc:dd:ee:02\"},"
    "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:03\",\"sandbox\":\"/run/crisp/pods/x/ns/net\"},"
    "{\"name\":\"lo\",\"mac\":\"00:00:00:00:00:00\",\"sandbox\":\"/run/crisp/pods/x/ns/net\"}],"
    "\"ips\":[{\"interface\":3,\"address\":\"127.0.0.1/8\"},"
    "{\"interface\":2,\"address\":\"fd00:88::5/64\",\"gateway\":\"fd00:88::1\"},"
    "{\"interface\":2,\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\"}],"
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.88.0.1\"}],"
    "\"dns\":{\"nameservers\":[\"10.96.0.10\"],\"search\":[\"svc\"],\"options\":[\"ndots:5\"],"
    "\"domain\":\"cluster.local\"}}";

static int parse(const char *text, struct crisp_cni_result *res, struct crisp_err *err)
{
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    int r = crisp_cni_result_parse(doc, "bridge", res, err);
    json_decref(doc);
    return r;
}

static void test_parses_a_bridge_result(void **state)
{
    (void)state;
    struct crisp_cni_result res;
    struct crisp_err err = {0};
    assert_int_equal(parse(bridge_result, &res, &err), 0);
    assert_int_equal(res.n_ifaces, 4);
    assert_string_equal(res.ifaces[2].sandbox, "/run/crisp/pods/x/ns/net");
    assert_string_equal(res.ifaces[0].sandbox, "");
    assert_int_equal(res.n_ips, 3);
    assert_int_equal(res.ips[2].family, AF_INET);
    assert_string_equal(res.ips[2].gateway, "10.88.0.1");
    assert_int_equal(res.ips[1].family, AF_INET6);
    assert_int_equal(res.n_routes, 1);
    assert_string_equal(res.dns_servers[0], "10.96.0.10");
    assert_string_equal(res.dns_searches[0], "svc");
    assert_string_equal(res.dns_options[0], "ndots:5");
    assert_string_equal(res.dns_domain, "cluster.local");

    size_t n;
    char **ips = crisp_cni_result_pod_ips(&res, "eth0", &n);
    assert_int_equal(n, 2); /* IPv4 first, no loopback */
    assert_string_equal(ips[0], "10.88.0.5");
    assert_string_equal(ips[1], "fd00:88::5");
    assert_null(ips[2]);
    for (size_t i = 0; i < n; i++)
        free(ips[i]);
    free(ips);
    crisp_cni_result_free(&res);
}

static void test_040_result_without_interfaces(void **state)
{
    (void)state;
    struct crisp_cni_result res;
    struct crisp_err err = {0};
    assert_int_equal(parse("{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\","
                           "\"address\":\"10.1.2.3/24\"},{\"address\":\"127.0.0.1/8\"}]}",
                           &res, &err),
                     0);
    size_t n;
    char **ips = crisp_cni_result_pod_ips(&res, "eth0", &n);
    assert_int_equal(n, 1);
    assert_string_equal(ips[0], "10.1.2.3");
    free(ips[0]);
    free(ips);
    crisp_cni_result_free(&res);
}

static void refused(const char *text, const char *why)
{
    struct crisp_cni_result res;
    struct crisp_err err = {0};
    if (parse(text, &res, &err) >= 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.code, GRPC_STATUS_INTERNAL);
    if (!strstr(err.msg, "CNI plugin bridge returned a malformed result") || !strstr(err.msg, why))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, why);
}

static void test_refuses_malformed_results(void **state)
{
    (void)state;
    refused("[]", "a JSON object");
    refused("{\"ips\":[]}", "cniVersion");
    refused("{\"cniVersion\":\"9.9.9\"}", "cniVersion");
    refused("{\"cniVersion\":\"1.0.0\",\"ips\":{}}", "ips: expected an array");
    refused("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1\"}]}", "CIDR");
    refused("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/33\"}]}", "CIDR");
    refused("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"x/8\"}]}", "CIDR");
    refused("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/8\",\"interface\":0}]}",
            "an index into interfaces");
    refused("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/8\",\"gateway\":\"g\"}]}",
            "ips[].gateway");
    refused("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"mac\":\"x\"}]}", "\"name\"");
    refused("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"e\",\"sandbox\":1}]}",
            "interfaces[].sandbox");
    refused("{\"cniVersion\":\"1.0.0\",\"routes\":[{\"gw\":\"1.2.3.4\"}]}", "routes[].dst");
    refused("{\"cniVersion\":\"1.0.0\",\"dns\":[]}", "dns: expected an object");
    refused("{\"cniVersion\":\"1.0.0\",\"dns\":{\"nameservers\":[1]}}", "nameservers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_a_bridge_result),
        cmocka_unit_test(test_040_result_without_interfaces),
        cmocka_unit_test(test_refuses_malformed_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
