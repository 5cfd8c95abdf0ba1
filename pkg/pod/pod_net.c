#define _GNU_SOURCE
#include "pod/pod_net.h"

#include <stdlib.h>

#include "network/network.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

int crisp_pod_net_begin(struct crisp_pod_store *ps, struct crisp_pod *pod,
                        struct crisp_network_add **add, struct crisp_err *err)
{
    *add = NULL;
    if (!ps->net || crisp_pod_ns_mode(pod, 'n') == RUNTIME__V1__NAMESPACE_MODE__NODE)
        return 0;
    _cleanup_free_ char *netns = crisp_xasprintf("%s/ns/net", pod->dir);
    struct crisp_network_pod np = {.id = pod->id, .netns = netns, .config = pod->config};
    return crisp_network_attach_begin(ps->net, &np, add, err);
}

int crisp_pod_net_finish(struct crisp_pod_store *ps, struct crisp_network_add *add, char **ip,
                         struct crisp_err *err)
{
    *ip = NULL;
    if (!add)
        return 0;
    char **ips = NULL;
    size_t n = 0;
    int r = crisp_network_attach_finish(ps->net, add, &ips, &n, err);
    if (r < 0)
        return r;
    *ip = n ? crisp_xstrdup(ips[0]) : NULL;
    for (size_t i = 0; i < n; i++)
        free(ips[i]);
    free(ips);
    return 0;
}

void crisp_pod_net_cancel(struct crisp_pod_store *ps, struct crisp_network_add *add)
{
    if (add)
        crisp_network_attach_cancel(ps->net, add);
}

void crisp_pod_net_down(struct crisp_pod_store *ps, struct crisp_pod *pod)
{
    struct crisp_err err;
    if (ps->net && crisp_network_detach(ps->net, pod->id, &err) < 0)
        log_error("pod",
                  "%s: releasing its network failed (retried on the next Stop, Remove "
                  "or crispd start): %s",
                  pod->id, err.msg);
}
