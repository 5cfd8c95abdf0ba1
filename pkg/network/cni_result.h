/* CNI results (spec 0.4.0 to 1.1.0): interfaces, IPs, routes and DNS, read
 * with jansson. Every field is checked; a malformed result is an error
 * naming the plugin and the field. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

struct crisp_cni_iface {
    char *name, *mac, *sandbox; /* sandbox: the netns path, "" for host interfaces */
};

struct crisp_cni_ip {
    char *address;  /* CIDR, e.g. 10.88.0.5/24 */
    char *gateway;  /* "" when absent */
    long interface; /* index into ifaces, -1 when absent */
    int family;     /* AF_INET or AF_INET6 */
};

struct crisp_cni_route {
    char *dst, *gw; /* gw "" when absent */
};

struct crisp_cni_result {
    char *cni_version;
    struct crisp_cni_iface *ifaces;
    size_t n_ifaces;
    struct crisp_cni_ip *ips;
    size_t n_ips;
    struct crisp_cni_route *routes;
    size_t n_routes;
    char **dns_servers, **dns_searches, **dns_options; /* NULL-terminated */
    char *dns_domain;
};

/* Parses a result document; plugin names the plugin in messages. */
int crisp_cni_result_parse(const json_t *doc, const char *plugin, struct crisp_cni_result *out,
                           struct crisp_err *err);
void crisp_cni_result_free(struct crisp_cni_result *res);

/* The pod's addresses without prefix length: the IPs of the sandbox
 * interface named ifname (every IP when none is tied to it), never loopback
 * ones (the loopback plugin reports 127.0.0.1), the first IPv4 first (the
 * kubelet's primary). A NULL-terminated malloc'd array of malloc'd strings. */
char **crisp_cni_result_pod_ips(const struct crisp_cni_result *res, const char *ifname, size_t *n);
