/* What the metrics endpoint reads from the daemon state at scrape time, and
 * its start. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "cri/runtime.h"
#include "events/events.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

/* The monitor named by <dir>/monitor.pid is alive. */
static bool monitor_alive(const struct crisp_ctr *c)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/monitor.pid", c->dir);
    _cleanup_free_ char *text = NULL;
    size_t len;
    struct crisp_err err;
    if (crisp_read_file(path, 64, &text, &len, &err) < 0)
        return false;
    long pid = strtol(text, NULL, 10);
    return pid > 1 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void count_containers(struct crisp_runtime *rt, struct crisp_metrics_gauges *g)
{
    struct crisp_ctr **ctrs;
    size_t n;
    crisp_ctr_store_list(&rt->ctrs, NULL, &ctrs, &n);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&ctrs[i]->lock);
        crisp_ctr_refresh_locked(ctrs[i]);
        enum crisp_ctr_state st = ctrs[i]->state;
        pthread_mutex_unlock(&ctrs[i]->lock);
        g->containers_created += st == CRISP_CTR_CREATED;
        g->containers_running += st == CRISP_CTR_RUNNING;
        g->containers_exited += st == CRISP_CTR_EXITED;
        g->monitors += monitor_alive(ctrs[i]);
        crisp_ctr_put(&rt->ctrs, ctrs[i]);
    }
    free(ctrs);
}

static void gauges(void *ctx, struct crisp_metrics_gauges *g)
{
    struct crisp_runtime *rt = ctx;
    struct crisp_pod **pods;
    size_t n;
    crisp_pod_store_list(&rt->pods, &pods, &n);
    for (size_t i = 0; i < n; i++) {
        bool ready = crisp_pod_state(pods[i]) == CRISP_POD_READY;
        g->pods_ready += ready;
        g->pods_notready += !ready;
        crisp_pod_put(&rt->pods, pods[i]);
    }
    free(pods);
    count_containers(rt, g);
    g->event_subscribers = crisp_events_subscribers();
}

int cri_metrics_start(struct crisp_runtime *rt, struct crisp_err *err)
{
    crisp_call_set_observer(crisp_metrics_observe_rpc);
    if (!rt->cfg->metrics_address || !*rt->cfg->metrics_address)
        return 0; /* the endpoint is off; counting costs a few atomics per call */
    return crisp_metrics_serve(rt->cfg->metrics_address, gauges, rt, &rt->metrics, err);
}
