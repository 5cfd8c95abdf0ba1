#include "cri/runtime.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cri/runtime_config.h"
#include "image/registry.h"
#include "runtime/cgroup_systemd.h"
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

/* cgroup_driver systemd: systemd must answer on the system bus, now. */
static int crisp_systemd_require(bool have_cgroups, struct crisp_err *err)
{
    _cleanup_free_ char *version = NULL;
    struct crisp_err why;
    int r = crisp_systemd_ping(&version, &why);
    if (r < 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, -r,
                            "cgroup_driver is \"systemd\", but systemd is not reachable: %s; run "
                            "crispd under systemd or set \"cgroup_driver\": \"cgroupfs\" (and "
                            "the kubelet's --cgroup-driver=cgroupfs)",
                            why.msg);
    if (!have_cgroups)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "cgroup_driver is \"systemd\", but no cgroup hierarchy was found");
    log_info("cri", "cgroup driver systemd (systemd %s)", version);
    return 0;
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
    crisp_pod_store_set_infra(&rt->pods, rt->monitor_path, rt->ctr_env.cgroups,
                              rt->cfg->cgroup_driver == CRISP_CGROUP_DRIVER_SYSTEMD);
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
        r = crisp_pod_store_init(&rt->pods, cfg->state, err);
    if (r == 0)
        r = crisp_ctr_store_init(&rt->ctrs, cfg->state, cfg->root, err);
    if (r == 0)
        setup_containers(rt);
    if (r == 0 && cfg->cgroup_driver == CRISP_CGROUP_DRIVER_SYSTEMD)
        r = crisp_systemd_require(rt->have_cgroups, err);
    crisp_registry_global_init();
    return r;
}

void crisp_runtime_free(struct crisp_runtime *rt)
{
    free(rt->pod_cidr);
    if (rt->images.index_path)
        crisp_image_store_free(&rt->images);
    if (rt->pods.dir)
        crisp_pod_store_free(&rt->pods);
    if (rt->ctrs.dir)
        crisp_ctr_store_free(&rt->ctrs);
    if (rt->have_cgroups)
        crisp_cgroup_root_release(&rt->cgroup_root);
    free(rt->monitor_path);
    pthread_mutex_destroy(&rt->lock);
    memset(rt, 0, sizeof(*rt));
}
