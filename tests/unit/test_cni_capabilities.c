/* CNI capability arguments, CNI_ARGS and per-plugin stdin configs
 * (pkg/network/cni_capabilities.c, cni_list.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "network/cni_capabilities.h"
#include "network/cni_list.h"

struct pod {
    Runtime__V1__PodSandboxConfig cfg;
    Runtime__V1__PodSandboxMetadata meta;
    Runtime__V1__PortMapping pm[3];
    Runtime__V1__PortMapping *pms[3];
    Runtime__V1__DNSConfig dns;
    Runtime__V1__PodSandboxConfig__AnnotationsEntry ann[2];
    Runtime__V1__PodSandboxConfig__AnnotationsEntry *anns[2];
};

static char *servers[] = {"10.96.0.10"};
static char *searches[] = {"ns.svc.cluster.local"};
static char *options[] = {"ndots:5"};

static void pod_init(struct pod *p)
{
    memset(p, 0, sizeof(*p));
    p->cfg = (Runtime__V1__PodSandboxConfig)RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    p->meta = (Runtime__V1__PodSandboxMetadata)RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    p->meta.name = "web";
    p->meta.namespace_ = "prod";
    p->meta.uid = "u-1";
    p->cfg.metadata = &p->meta;
    for (int i = 0; i < 3; i++) {
        p->pm[i] = (Runtime__V1__PortMapping)RUNTIME__V1__PORT_MAPPING__INIT;
        p->pms[i] = &p->pm[i];
    }
    for (int i = 0; i < 2; i++) {
        p->ann[i] = (Runtime__V1__PodSandboxConfig__AnnotationsEntry)
            RUNTIME__V1__POD_SANDBOX_CONFIG__ANNOTATIONS_ENTRY__INIT;
        p->anns[i] = &p->ann[i];
    }
    p->cfg.port_mappings = p->pms;
    p->cfg.annotations = p->anns;
    p->dns = (Runtime__V1__DNSConfig)RUNTIME__V1__DNSCONFIG__INIT;
    p->dns.servers = servers;
    p->dns.n_servers = 1;
    p->dns.searches = searches;
    p->dns.n_searches = 1;
    p->dns.options = options;
    p->dns.n_options = 1;
}

static json_t *caps_of(struct pod *p)
{
    json_t *caps = NULL;
    struct crisp_err err = {0};
    if (crisp_cni_capabilities(&p->cfg, &caps, &err) < 0)
        fail_msg("refused: %s", err.msg);
    return caps;
}

static void test_port_mappings_only_with_a_host_port(void **state)
{
    (void)state;
    struct pod p;
    pod_init(&p);
    p.pm[0].container_port = 80, p.pm[0].host_port = 8080;
    p.pm[1].container_port = 53, p.pm[1].host_port = 5353, p.pm[1].protocol = 1;
    p.pm[1].host_ip = "127.0.0.1";
    p.pm[2].container_port = 9090; /* no host port: nothing published */
    p.cfg.n_port_mappings = 3;
    json_t *caps = caps_of(&p);
    char *text = json_dumps(json_object_get(caps, "portMappings"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "[{\"containerPort\":80,\"hostPort\":8080,\"protocol\":\"tcp\"},"
                              "{\"containerPort\":53,\"hostIP\":\"127.0.0.1\",\"hostPort\":5353,"
                              "\"protocol\":\"udp\"}]");
    free(text);
    assert_null(json_object_get(caps, "dns"));
    assert_null(json_object_get(caps, "bandwidth"));
    json_decref(caps);
}

static void refused(struct pod *p, const char *why)
{
    json_t *caps = NULL;
    struct crisp_err err = {0};
    if (crisp_cni_capabilities(&p->cfg, &caps, &err) >= 0)
        fail_msg("accepted (wanted \"%s\")", why);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (!strstr(err.msg, why))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, why);
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    struct pod p;
    pod_init(&p);
    p.cfg.n_port_mappings = 1;
    p.pm[0].host_port = 70000, p.pm[0].container_port = 80;
    refused(&p, "config.port_mappings[0]");
    p.pm[0].host_port = 80, p.pm[0].host_ip = "localhost";
    refused(&p, "host_ip");
    pod_init(&p);
    p.cfg.n_annotations = 1;
    p.ann[0].key = "kubernetes.io/ingress-bandwidth", p.ann[0].value = "fast";
    refused(&p, "kubernetes.io/ingress-bandwidth");
    p.ann[0].key = CRISP_CNI_IPS_ANNOTATION, p.ann[0].value = "10.0.0.1,nope";
    refused(&p, "\"nope\" is not an IP address");
}

static void test_dns_bandwidth_and_ips(void **state)
{
    (void)state;
    struct pod p;
    pod_init(&p);
    p.cfg.dns_config = &p.dns;
    p.cfg.n_annotations = 2;
    p.ann[0].key = "kubernetes.io/egress-bandwidth", p.ann[0].value = "10M";
    p.ann[1].key = CRISP_CNI_IPS_ANNOTATION, p.ann[1].value = "10.88.0.10/16,fd00::10";
    json_t *caps = caps_of(&p);
    char *text = json_dumps(caps, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"bandwidth\":{\"egressBurst\":2147483647,"
                              "\"egressRate\":10000000},"
                              "\"dns\":{\"options\":[\"ndots:5\"],\"searches\":"
                              "[\"ns.svc.cluster.local\"],\"servers\":[\"10.96.0.10\"]},"
                              "\"ips\":[\"10.88.0.10/16\",\"fd00::10\"],\"portMappings\":[]}");
    free(text);

    /* a plugin gets only what it declares */
    json_t *plugin = json_pack("{s:s, s:{s:b, s:b, s:b}}", "type", "bw", "capabilities",
                               "bandwidth", 1, "dns", 0, "mac", 1);
    json_t *list =
        json_pack("{s:s, s:s, s:[O]}", "cniVersion", "1.0.0", "name", "n", "plugins", plugin);
    json_t *prev = json_pack("{s:s}", "cniVersion", "1.0.0");
    json_t *conf = crisp_cni_plugin_config(list, plugin, caps, prev);
    text = json_dumps(conf, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"capabilities\":{\"bandwidth\":true,\"dns\":false,\"mac\":true},"
                              "\"cniVersion\":\"1.0.0\",\"name\":\"n\","
                              "\"prevResult\":{\"cniVersion\":\"1.0.0\"},"
                              "\"runtimeConfig\":{\"bandwidth\":{\"egressBurst\":2147483647,"
                              "\"egressRate\":10000000}},\"type\":\"bw\"}");
    free(text);
    json_decref(conf);
    json_t *bare = json_pack("{s:s}", "type", "bridge");
    conf = crisp_cni_plugin_config(list, bare, caps, NULL);
    assert_null(json_object_get(conf, "runtimeConfig"));
    assert_null(json_object_get(conf, "prevResult"));
    json_decref(conf);
    json_decref(bare);
    json_decref(prev);
    json_decref(list);
    json_decref(plugin);
    json_decref(caps);
}

static void test_cni_args(void **state)
{
    (void)state;
    struct pod p;
    pod_init(&p);
    char *args = NULL;
    struct crisp_err err = {0};
    assert_int_equal(crisp_cni_args(&p.cfg, "abc", &args, &err), 0);
    assert_string_equal(args, "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web;"
                              "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1");
    free(args);
    p.meta.name = "web;K8S_POD_NAMESPACE=kube-system";
    assert_int_equal(crisp_cni_args(&p.cfg, "abc", &args, &err), -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
}

static void test_quantities(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(crisp_cni_parse_quantity("1000", &v), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(crisp_cni_parse_quantity("10M", &v), 0);
    assert_int_equal(v, 10000000);
    assert_int_equal(crisp_cni_parse_quantity("1Gi", &v), 0);
    assert_int_equal(v, 1LL << 30);
    assert_int_equal(crisp_cni_parse_quantity("5k", &v), 0);
    assert_int_equal(v, 5000);
    assert_int_equal(crisp_cni_parse_quantity("", &v), -EINVAL);
    assert_int_equal(crisp_cni_parse_quantity("-1M", &v), -EINVAL);
    assert_int_equal(crisp_cni_parse_quantity("1X", &v), -EINVAL);
    assert_int_equal(crisp_cni_parse_quantity("9999999999Pi", &v), -ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_mappings_only_with_a_host_port),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_dns_bandwidth_and_ips),
        cmocka_unit_test(test_cni_args),
        cmocka_unit_test(test_quantities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
