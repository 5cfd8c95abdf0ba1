#define _GNU_SOURCE
#include "network/cni_capabilities.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/mem.h"

#define INGRESS_ANNOTATION "kubernetes.io/ingress-bandwidth"
#define EGRESS_ANNOTATION  "kubernetes.io/egress-bandwidth"

static const char *annotation(const Runtime__V1__PodSandboxConfig *c, const char *key)
{
    for (size_t i = 0; i < c->n_annotations; i++)
        if (strcmp(c->annotations[i]->key, key) == 0)
            return c->annotations[i]->value;
    return NULL;
}

int crisp_cni_parse_quantity(const char *text, long long *out)
{
    static const struct {
        const char *suffix;
        long long mult;
    } units[] = {{"", 1},
                 {"k", 1000LL},
                 {"M", 1000LL * 1000},
                 {"G", 1000LL * 1000 * 1000},
                 {"T", 1000LL * 1000 * 1000 * 1000},
                 {"P", 1000LL * 1000 * 1000 * 1000 * 1000},
                 {"Ki", 1LL << 10},
                 {"Mi", 1LL << 20},
                 {"Gi", 1LL << 30},
                 {"Ti", 1LL << 40},
                 {"Pi", 1LL << 50}};
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0 || *text == '+' || *text == ' ')
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > LLONG_MAX / units[i].mult)
                return -ERANGE;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

static json_t *strings(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int port_mappings(const Runtime__V1__PodSandboxConfig *c, json_t *caps,
                         struct crisp_err *err)
{
    static const char *const protocols[] = {"tcp", "udp", "sctp"};
    json_t *list = json_array();
    json_object_set_new(caps, "portMappings", list);
    for (size_t i = 0; i < c->n_port_mappings; i++) {
        const Runtime__V1__PortMapping *m = c->port_mappings[i];
        if (m->host_port <= 0) /* a container port alone publishes nothing */
            continue;
        if (m->host_port > 65535 || m->container_port <= 0 || m->container_port > 65535 ||
            (unsigned)m->protocol > 2)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "config.port_mappings[%zu]: expected host_port and "
                                "container_port from 1 to 65535 and protocol TCP, UDP or SCTP",
                                i);
        json_t *pm = json_pack("{s:i, s:i, s:s}", "hostPort", m->host_port, "containerPort",
                               m->container_port, "protocol", protocols[m->protocol]);
        unsigned char buf[16];
        if (m->host_ip && *m->host_ip) {
            if (inet_pton(AF_INET, m->host_ip, buf) != 1 &&
                inet_pton(AF_INET6, m->host_ip, buf) != 1) {
                json_decref(pm);
                return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                    "config.port_mappings[%zu].host_ip: \"%s\" is not an IP "
                                    "address",
                                    i, m->host_ip);
            }
            json_object_set_new(pm, "hostIP", json_string(m->host_ip));
        }
        json_array_append_new(list, pm);
    }
    return 0;
}

static int bandwidth(const Runtime__V1__PodSandboxConfig *c, json_t *caps, struct crisp_err *err)
{
    const char *keys[] = {INGRESS_ANNOTATION, EGRESS_ANNOTATION};
    const char *fields[] = {"ingress", "egress"};
    json_t *bw = json_object();
    for (int i = 0; i < 2; i++) {
        const char *v = annotation(c, keys[i]);
        long long rate;
        if (!v)
            continue;
        if (crisp_cni_parse_quantity(v, &rate) < 0 || rate <= 0) {
            json_decref(bw);
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "annotation %s: \"%s\": expected a positive quantity in bits per "
                                "second such as 10M or 1Gi",
                                keys[i], v);
        }
        _cleanup_free_ char *rate_key = crisp_xasprintf("%sRate", fields[i]);
        _cleanup_free_ char *burst_key = crisp_xasprintf("%sBurst", fields[i]);
        json_object_set_new(bw, rate_key, json_integer(rate));
        json_object_set_new(bw, burst_key, json_integer(INT_MAX)); /* what the kubelet sends */
    }
    if (json_object_size(bw))
        json_object_set_new(caps, "bandwidth", bw);
    else
        json_decref(bw);
    return 0;
}

static int ips(const Runtime__V1__PodSandboxConfig *c, json_t *caps, struct crisp_err *err)
{
    const char *v = annotation(c, CRISP_CNI_IPS_ANNOTATION);
    if (!v)
        return 0;
    _cleanup_free_ char *copy = crisp_xstrdup(v);
    json_t *list = json_array();
    json_object_set_new(caps, "ips", list);
    char *save = NULL;
    for (char *ip = strtok_r(copy, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
        char addr[64];
        snprintf(addr, sizeof(addr), "%s", ip);
        char *slash = strchr(addr, '/');
        if (slash)
            *slash = '\0';
        unsigned char buf[16];
        if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "annotation %s: \"%s\" is not an IP address (expected a "
                                "comma-separated list such as 10.88.0.10/16)",
                                CRISP_CNI_IPS_ANNOTATION, ip);
        json_array_append_new(list, json_string(ip));
    }
    return 0;
}

int crisp_cni_capabilities(const Runtime__V1__PodSandboxConfig *config, json_t **out,
                           struct crisp_err *err)
{
    _cleanup_json_ json_t *caps = json_object();
    int r = port_mappings(config, caps, err);
    const Runtime__V1__DNSConfig *dns = config->dns_config;
    if (r == 0 && dns)
        json_object_set_new(caps, "dns",
                            json_pack("{s:o, s:o, s:o}", "servers",
                                      strings(dns->servers, dns->n_servers), "searches",
                                      strings(dns->searches, dns->n_searches), "options",
                                      strings(dns->options, dns->n_options)));
    if (r == 0)
        r = bandwidth(config, caps, err);
    if (r == 0)
        r = ips(config, caps, err);
    if (r == 0)
        *out = crisp_steal_ptr(caps);
    return r;
}

json_t *crisp_cni_runtime_config(const json_t *plugin, const json_t *capabilities)
{
    const json_t *declared = json_object_get(plugin, "capabilities");
    json_t *rc = json_object();
    const char *key;
    json_t *on;
    json_object_foreach((json_t *)declared, key, on)
    {
        json_t *value = json_object_get(capabilities, key);
        if (json_is_true(on) && value)
            json_object_set(rc, key, value);
    }
    if (json_object_size(rc) == 0) {
        json_decref(rc);
        return NULL;
    }
    return rc;
}

static bool injectable(const char *s)
{
    return strpbrk(s, ";=") != NULL;
}

int crisp_cni_args(const Runtime__V1__PodSandboxConfig *config, const char *pod_id, char **out,
                   struct crisp_err *err)
{
    const Runtime__V1__PodSandboxMetadata *m = config->metadata;
    if (injectable(m->name) || injectable(m->namespace_) || injectable(m->uid))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "config.metadata: name, namespace and uid must not contain ';' or "
                            "'=' (they are passed to the CNI plugins in CNI_ARGS)");
    *out = crisp_xasprintf("IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
                           "K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s",
                           m->namespace_, m->name, pod_id, m->uid);
    return 0;
}
