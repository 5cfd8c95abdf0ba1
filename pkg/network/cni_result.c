#define _GNU_SOURCE
#include "network/cni_result.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "network/cni_conf.h"
#include "util/json.h"
#include "util/mem.h"

struct ctx {
    const char *plugin;
    struct crisp_err *err;
    size_t n_ifaces; /* for checking ips[].interface */
};

static int bad(const struct ctx *c, const char *field, const char *expected)
{
    return crisp_errorf(c->err, GRPC_STATUS_INTERNAL, EPROTO,
                        "CNI plugin %s returned a malformed result: %s: expected %s", c->plugin,
                        field, expected);
}

/* An optional string member: NULL when absent, "" never fails. */
static int opt_string(const struct ctx *c, const json_t *obj, const char *key, const char *field,
                      char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (v && !json_is_string(v))
        return bad(c, field, "a string");
    *out = crisp_xstrdup(v ? json_string_value(v) : "");
    return 0;
}

/* Splits "addr/len"; returns the address family, 0 when it is not a CIDR. */
static int cidr_family(const char *cidr)
{
    const char *slash = strchr(cidr, '/');
    if (!slash || slash == cidr || (size_t)(slash - cidr) >= INET6_ADDRSTRLEN)
        return 0;
    char addr[INET6_ADDRSTRLEN];
    memcpy(addr, cidr, (size_t)(slash - cidr));
    addr[slash - cidr] = '\0';
    char *end;
    errno = 0;
    long len = strtol(slash + 1, &end, 10);
    unsigned char buf[16];
    if (errno || *end || end == slash + 1)
        return 0;
    if (inet_pton(AF_INET, addr, buf) == 1 && len >= 0 && len <= 32)
        return AF_INET;
    if (inet_pton(AF_INET6, addr, buf) == 1 && len >= 0 && len <= 128)
        return AF_INET6;
    return 0;
}

static bool valid_ip_or_empty(const char *s)
{
    unsigned char buf[16];
    return !*s || inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int parse_iface(const struct ctx *c, const json_t *o, void *elem)
{
    struct crisp_cni_iface *f = elem;
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_object(o) || !name || !*name)
        return bad(c, "interfaces[]", "an object with a \"name\"");
    f->name = crisp_xstrdup(name);
    int r = opt_string(c, o, "mac", "interfaces[].mac", &f->mac);
    return r < 0 ? r : opt_string(c, o, "sandbox", "interfaces[].sandbox", &f->sandbox);
}

static int parse_ip(const struct ctx *c, const json_t *o, void *elem)
{
    struct crisp_cni_ip *ip = elem;
    const char *address = json_string_value(json_object_get(o, "address"));
    if (!json_is_object(o) || !address || !(ip->family = cidr_family(address)))
        return bad(c, "ips[].address", "an address in CIDR form (10.88.0.5/16)");
    ip->address = crisp_xstrdup(address);
    int r = opt_string(c, o, "gateway", "ips[].gateway", &ip->gateway);
    if (r == 0 && !valid_ip_or_empty(ip->gateway))
        return bad(c, "ips[].gateway", "an IP address");
    const json_t *idx = json_object_get(o, "interface");
    ip->interface = -1;
    if (r == 0 && idx) {
        if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
            (size_t)json_integer_value(idx) >= c->n_ifaces)
            return bad(c, "ips[].interface", "an index into interfaces");
        ip->interface = (long)json_integer_value(idx);
    }
    return r;
}

static int parse_route(const struct ctx *c, const json_t *o, void *elem)
{
    struct crisp_cni_route *rt = elem;
    const char *dst = json_string_value(json_object_get(o, "dst"));
    if (!json_is_object(o) || !dst || !cidr_family(dst))
        return bad(c, "routes[].dst", "a destination in CIDR form");
    rt->dst = crisp_xstrdup(dst);
    int r = opt_string(c, o, "gw", "routes[].gw", &rt->gw);
    if (r == 0 && !valid_ip_or_empty(rt->gw))
        return bad(c, "routes[].gw", "an IP address");
    return r;
}

/* An optional array member parsed element by element into a calloc'd array
 * (counted as it fills, so a failure leaves it freeable). */
static int parse_array(const struct ctx *c, const json_t *doc, const char *key, size_t elem_size,
                       void **out, size_t *n,
                       int (*parse)(const struct ctx *, const json_t *, void *))
{
    const json_t *arr = json_object_get(doc, key);
    if (arr && !json_is_array(arr))
        return bad(c, key, "an array");
    *out = crisp_xcalloc(json_array_size(arr) + 1, elem_size);
    int r = 0;
    for (size_t i = 0; r == 0 && i < json_array_size(arr); i++)
        r = parse(c, json_array_get(arr, i), (char *)*out + elem_size * (*n)++);
    return r;
}

static int string_list(const struct ctx *c, const json_t *dns, const char *key, char ***out)
{
    const json_t *v = json_object_get(dns, key);
    size_t n;
    *out = crisp_json_strings(v, &n);
    if (v && (!json_is_array(v) || n != json_array_size(v)))
        return bad(c, key, "an array of strings");
    return 0;
}

static int parse_dns(const struct ctx *c, const json_t *doc, struct crisp_cni_result *out)
{
    const json_t *dns = json_object_get(doc, "dns");
    if (dns && !json_is_object(dns))
        return bad(c, "dns", "an object");
    int r = string_list(c, dns, "nameservers", &out->dns_servers);
    if (r == 0)
        r = string_list(c, dns, "search", &out->dns_searches);
    if (r == 0)
        r = string_list(c, dns, "options", &out->dns_options);
    if (r == 0)
        r = opt_string(c, dns, "domain", "dns.domain", &out->dns_domain);
    return r;
}

int crisp_cni_result_parse(const json_t *doc, const char *plugin, struct crisp_cni_result *out,
                           struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct ctx c = {plugin, err, 0};
    if (!json_is_object(doc))
        return bad(&c, "the result", "a JSON object");
    const char *version = json_string_value(json_object_get(doc, "cniVersion"));
    if (!version || !crisp_cni_version_supported(version))
        return bad(&c, "cniVersion", "0.4.0, 1.0.0 or 1.1.0");
    out->cni_version = crisp_xstrdup(version);
    int r = parse_array(&c, doc, "interfaces", sizeof(*out->ifaces), (void **)&out->ifaces,
                        &out->n_ifaces, parse_iface);
    c.n_ifaces = out->n_ifaces;
    if (r == 0)
        r = parse_array(&c, doc, "ips", sizeof(*out->ips), (void **)&out->ips, &out->n_ips,
                        parse_ip);
    if (r == 0)
        r = parse_array(&c, doc, "routes", sizeof(*out->routes), (void **)&out->routes,
                        &out->n_routes, parse_route);
    if (r == 0)
        r = parse_dns(&c, doc, out);
    if (r < 0)
        crisp_cni_result_free(out);
    return r;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void crisp_cni_result_free(struct crisp_cni_result *res)
{
    for (size_t i = 0; i < res->n_ifaces; i++) {
        free(res->ifaces[i].name);
        free(res->ifaces[i].mac);
        free(res->ifaces[i].sandbox);
    }
    for (size_t i = 0; i < res->n_ips; i++) {
        free(res->ips[i].address);
        free(res->ips[i].gateway);
    }
    for (size_t i = 0; i < res->n_routes; i++) {
        free(res->routes[i].dst);
        free(res->routes[i].gw);
    }
    free(res->ifaces);
    free(res->ips);
    free(res->routes);
    free_strv(res->dns_servers);
    free_strv(res->dns_searches);
    free_strv(res->dns_options);
    free(res->dns_domain);
    free(res->cni_version);
    memset(res, 0, sizeof(*res));
}

static bool on_ifname(const struct crisp_cni_result *res, const struct crisp_cni_ip *ip,
                      const char *ifname)
{
    return ip->interface >= 0 && *res->ifaces[ip->interface].sandbox &&
           strcmp(res->ifaces[ip->interface].name, ifname) == 0;
}

static bool is_loopback(const struct crisp_cni_ip *ip)
{
    return ip->family == AF_INET ? strncmp(ip->address, "127.", 4) == 0
                                 : strncmp(ip->address, "::1/", 4) == 0;
}

char **crisp_cni_result_pod_ips(const struct crisp_cni_result *res, const char *ifname, size_t *n)
{
    bool any_on_ifname = false;
    for (size_t i = 0; i < res->n_ips; i++)
        any_on_ifname = any_on_ifname || on_ifname(res, &res->ips[i], ifname);
    char **out = crisp_xcalloc(res->n_ips + 1, sizeof(*out));
    *n = 0;
    for (int pass = 0; pass < 2; pass++) { /* IPv4 first, then IPv6 */
        for (size_t i = 0; i < res->n_ips; i++) {
            const struct crisp_cni_ip *ip = &res->ips[i];
            if ((pass == 0) != (ip->family == AF_INET) || is_loopback(ip) ||
                (any_on_ifname && !on_ifname(res, ip, ifname)))
                continue;
            out[*n] = crisp_xstrdup(ip->address);
            *strchr(out[(*n)++], '/') = '\0';
        }
    }
    return out;
}
