#include "cri/runtime.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cri/runtime_config.h"
#include "image/registry.h"
#include "pod/pod_persist.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

/* crisp-monitor lives next to crispd. */
static char *monitor_path(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return crisp_xstrdup("/usr/local/bin/crisp-monitor");
    exe[n] = '\0';
    return crisp_xasprintf("%s/crisp-monitor", dirname(exe));
}

static void setup_containers(struct crisp_runtime *rt)
{
    struct crisp_err err;
    rt->have_cgroups = crisp_cgroup_root_detect(&rt->cgroup_root, &err) == 0;
    if (!rt->have_cgroups)
        log_warn("cri", "no usable cgroups, containers run without limits: %s", err.msg);
    rt->monitor_path = monitor_path();
    rt->ctr_env = (struct crisp_ctr_env){.cfg = rt->cfg,
                                         .images = &rt->images,
                                         .pods = &rt->pods,
                                         .ctrs = &rt->ctrs,
                                         .cgroups = rt->have_cgroups ? &rt->cgroup_root : NULL,
                                         .monitor_path = rt->monitor_path};
}

static int setup_network(struct crisp_runtime *rt, struct crisp_err *err)
{
    const struct crisp_config *cfg = rt->cfg;
    struct crisp_network_opts opts = {.conf_dir = cfg->cni_conf_dir,
                                      .bin_dirs = cfg->cni_bin_dirs,
                                      .n_bin_dirs = cfg->n_cni_bin_dirs,
                                      .timeout_seconds = (int)cfg->cni_plugin_timeout_seconds,
                                      .state_dir = cfg->state};
    int r = crisp_network_init(&rt->net, &opts, err);
    rt->have_net = true; /* initialised enough to be freed */
    return r;
}

/* For the network's start-up sweep: is there a pod with this id that got
 * past creation? (One left creating by a crash is about to be undone.) */
static bool pod_exists(void *ctx, const char *id)
{
    struct crisp_runtime *rt = ctx;
    _cleanup_free_ char *pods_dir = crisp_xasprintf("%s/pods", rt->cfg->state);
    struct crisp_err err;
    struct crisp_pod *pod = strlen(id) == CRISP_ID_LEN ? crisp_pod_load(pods_dir, id, &err) : NULL;
    bool exists = pod && pod->state != CRISP_POD_CREATING;
    crisp_pod_free(pod);
    return exists;
}

int crisp_runtime_init(struct crisp_runtime *rt, const struct crisp_config *cfg,
                       struct crisp_err *err)
{
    memset(rt, 0, sizeof(*rt));
    rt->cfg = cfg;
    pthread_mutex_init(&rt->lock, NULL);
    int r = crisp_mkdir_p(cfg->root, 0711, err);
    if (r == 0)
        r = crisp_mkdir_p(cfg->state, 0711, err);
    if (r == 0)
        r = crisp_runtime_config_load(rt, err);
    if (r == 0)
        r = crisp_image_store_init(&rt->images, cfg->root, err);
    if (r == 0)
        r = setup_network(rt, err);
    if (r == 0) /* before the pod store undoes interrupted pods, so their netns is still there */
        crisp_network_recover(&rt->net, pod_exists, rt);
    if (r == 0)
        r = crisp_pod_store_init(&rt->pods, cfg->state, err);
    if (r == 0)
        rt->pods.net = &rt->net;
    if (r == 0)
        r = crisp_ctr_store_init(&rt->ctrs, cfg->state, cfg->root, err);
    if (r == 0)
        setup_containers(rt);
    if (r == 0)
        r = crisp_stats_start(&rt->stats, &rt->ctrs, rt->ctr_env.cgroups, err);
    if (r == 0)
        r = crisp_events_start(cri_build_event, rt, err);
    if (r == 0)
        r = crisp_exit_watch_start(&rt->exit_watch, &rt->ctrs, err);
    if (r == 0)
        r = cri_metrics_start(rt, err);
    crisp_registry_global_init();
    return r;
}

void crisp_runtime_free(struct crisp_runtime *rt)
{
    crisp_metrics_stop(rt->metrics);
    if (rt->exit_watch.ctrs)
        crisp_exit_watch_stop(&rt->exit_watch);
    crisp_events_stop();
    if (rt->stats.started)
        crisp_stats_stop(&rt->stats);
    free(rt->pod_cidr);
    if (rt->images.index_path)
        crisp_image_store_free(&rt->images);
    if (rt->pods.dir)
        crisp_pod_store_free(&rt->pods);
    if (rt->ctrs.dir)
        crisp_ctr_store_free(&rt->ctrs);
    if (rt->have_net)
        crisp_network_free(&rt->net);
    if (rt->have_cgroups)
        crisp_cgroup_root_release(&rt->cgroup_root);
    free(rt->monitor_path);
    pthread_mutex_destroy(&rt->lock);
    memset(rt, 0, sizeof(*rt));
}
