/* Version, Status and RuntimeConfig: what the kubelet asks about the runtime itself. */
#include <string.h>
#include <unistd.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/runtime.h"
#include "cri/runtime_config.h"
#include "util/cleanup.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "unknown"
#endif

/* The kubelet runtime API version every CRI runtime reports ("0.1.0"). */
#define KUBELET_API_VERSION "0.1.0"

CRI_UNARY(cri_version)
{
    (void)req;
    (void)err;
    Runtime__V1__VersionResponse *out = crisp_msg_new(
        crisp_call_arena(call), Runtime__V1__VersionResponse, RUNTIME__V1__VERSION_RESPONSE__INIT);
    out->version = KUBELET_API_VERSION;
    out->runtime_name = "crisp";
    out->runtime_version = CRISP_VERSION;
    out->runtime_api_version = "v1";
    *resp = &out->base;
    return 0;
}

static Runtime__V1__RuntimeCondition *condition(struct crisp_arena *a, const char *type,
                                                bool status, const char *reason,
                                                const char *message)
{
    Runtime__V1__RuntimeCondition *c =
        crisp_msg_new(a, Runtime__V1__RuntimeCondition, RUNTIME__V1__RUNTIME_CONDITION__INIT);
    c->type = (char *)type;
    c->status = status;
    c->reason = (char *)reason;
    c->message = (char *)message;
    return c;
}

/* Ready when the directories it keeps its data in are usable. */
static Runtime__V1__RuntimeCondition *runtime_ready(struct crisp_arena *a,
                                                    const struct crisp_config *cfg)
{
    const char *dirs[] = {cfg->root, cfg->state};
    for (size_t i = 0; i < 2; i++)
        if (access(dirs[i], W_OK | X_OK) < 0)
            return condition(a, "RuntimeReady", false, "RuntimeDirUnusable",
                             crisp_arena_printf(a, "crisp: %s is not writable", dirs[i]));
    return condition(a, "RuntimeReady", true, "", "");
}

/* Ready when the CNI config dir has a valid network config (the watcher
 * keeps this current). */
static Runtime__V1__RuntimeCondition *network_ready(struct crisp_arena *a, struct crisp_runtime *rt)
{
    _cleanup_free_ char *msg = NULL;
    if (crisp_network_ready(&rt->net, &msg))
        return condition(a, "NetworkReady", true, "", "");
    return condition(a, "NetworkReady", false, "NetworkPluginNotReady", crisp_arena_strdup(a, msg));
}

static Runtime__V1__RuntimeStatus *runtime_status(struct crisp_arena *a, struct crisp_runtime *rt)
{
    const struct crisp_config *cfg = rt->cfg;
    Runtime__V1__RuntimeStatus *st =
        crisp_msg_new(a, Runtime__V1__RuntimeStatus, RUNTIME__V1__RUNTIME_STATUS__INIT);
    st->n_conditions = 2;
    st->conditions = crisp_arena_array(a, Runtime__V1__RuntimeCondition *, 2);
    st->conditions[0] = runtime_ready(a, cfg);
    st->conditions[1] = network_ready(a, rt);
    return st;
}

/* The default handler (name ""), with the features crisp really has. */
static void add_handlers(struct crisp_arena *a, Runtime__V1__StatusResponse *out)
{
    Runtime__V1__RuntimeHandler *h =
        crisp_msg_new(a, Runtime__V1__RuntimeHandler, RUNTIME__V1__RUNTIME_HANDLER__INIT);
    h->name = "";
    h->features = crisp_msg_new(a, Runtime__V1__RuntimeHandlerFeatures,
                                RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT);
    out->n_runtime_handlers = 1;
    out->runtime_handlers = crisp_arena_array(a, Runtime__V1__RuntimeHandler *, 1);
    out->runtime_handlers[0] = h;
    out->features =
        crisp_msg_new(a, Runtime__V1__RuntimeFeatures, RUNTIME__V1__RUNTIME_FEATURES__INIT);
}

static Runtime__V1__StatusResponse__InfoEntry *info_json(struct crisp_arena *a, const char *key,
                                                         json_t *doc)
{
    Runtime__V1__StatusResponse__InfoEntry *e = crisp_msg_new(
        a, Runtime__V1__StatusResponse__InfoEntry, RUNTIME__V1__STATUS_RESPONSE__INFO_ENTRY__INIT);
    _cleanup_free_ char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(doc);
    e->key = (char *)key;
    e->value = crisp_arena_strdup(a, text ? text : "{}");
    return e;
}

CRI_UNARY(cri_status)
{
    (void)err;
    const Runtime__V1__StatusRequest *in = crisp_req(Runtime__V1__StatusRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__StatusResponse *out =
        crisp_msg_new(a, Runtime__V1__StatusResponse, RUNTIME__V1__STATUS_RESPONSE__INIT);
    out->status = runtime_status(a, rt);
    add_handlers(a, out);
    if (in->verbose) {
        out->n_info = 2;
        out->info = crisp_arena_array(a, Runtime__V1__StatusResponse__InfoEntry *, 2);
        out->info[0] = info_json(a, "config", crisp_config_to_json(rt->cfg));
        out->info[1] = info_json(a, "runtime_config", crisp_runtime_config_to_json(rt));
    }
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_runtime_config)
{
    (void)req;
    (void)err;
    const struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    Runtime__V1__RuntimeConfigResponse *out = crisp_msg_new(
        a, Runtime__V1__RuntimeConfigResponse, RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT);
    out->linux = crisp_msg_new(a, Runtime__V1__LinuxRuntimeConfiguration,
                               RUNTIME__V1__LINUX_RUNTIME_CONFIGURATION__INIT);
    out->linux->cgroup_driver = rt->cfg->cgroup_driver == CRISP_CGROUP_DRIVER_SYSTEMD
                                    ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD
                                    : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
    *resp = &out->base;
    return 0;
}
