#include "cri/runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cri/runtime_config.h"
#include "image/registry.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

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
    pthread_mutex_destroy(&rt->lock);
    memset(rt, 0, sizeof(*rt));
}
