#define _GNU_SOURCE
#include "network/network.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "network/cni_capabilities.h"
#include "network/cni_conf.h"
#include "network/cni_list.h"
#include "network/cni_result.h"
#include "network/net_record.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define POD_IFNAME "eth0"

#include "network/net_watch.h"

int crisp_network_init(struct crisp_network *net, const struct crisp_network_opts *opts,
                       struct crisp_err *err)
{
    memset(net, 0, sizeof(*net));
    net->wake[0] = net->wake[1] = -1;
    pthread_mutex_init(&net->lock, NULL);
    net->conf_dir = crisp_xstrdup(opts->conf_dir);
    net->bin_dirs = crisp_xcalloc(opts->n_bin_dirs + 1, sizeof(char *));
    for (size_t i = 0; i < opts->n_bin_dirs; i++)
        net->bin_dirs[i] = crisp_xstrdup(opts->bin_dirs[i]);
    net->dirs =
        (struct crisp_cni_plugin_dirs){net->bin_dirs, opts->n_bin_dirs, opts->timeout_seconds};
    net->records_dir = crisp_xasprintf("%s/network", opts->state_dir);
    int r = crisp_mkdir_p(net->records_dir, 0700, err);
    crisp_network_refresh(net);
    if (r == 0)
        r = crisp_network_watch_start(net, err);
    return r;
}

void crisp_network_free(struct crisp_network *net)
{
    crisp_network_watch_stop(net);
    for (size_t i = 0; net->bin_dirs && net->bin_dirs[i]; i++)
        free(net->bin_dirs[i]);
    free(net->bin_dirs);
    free(net->conf_dir);
    free(net->records_dir);
    free(net->status_msg);
    pthread_mutex_destroy(&net->lock);
    memset(net, 0, sizeof(*net));
}

void crisp_network_refresh(struct crisp_network *net)
{
    struct crisp_cni_conf conf;
    struct crisp_err err;
    bool ready = crisp_cni_conf_load_dir(net->conf_dir, &conf, &err) == 0;
    char *msg = ready ? crisp_xasprintf("%s (network \"%s\")", conf.path, conf.name)
                      : crisp_xasprintf("crisp: network plugin is not ready: %s", err.msg);
    if (ready)
        crisp_cni_conf_free(&conf);
    pthread_mutex_lock(&net->lock);
    bool changed = ready != net->ready || !net->status_msg || strcmp(msg, net->status_msg) != 0;
    net->ready = ready;
    free(net->status_msg);
    net->status_msg = msg;
    pthread_mutex_unlock(&net->lock);
    if (changed)
        log_info("network", "%s: %s", ready ? "ready" : "not ready", msg);
}

bool crisp_network_ready(struct crisp_network *net, char **msg)
{
    pthread_mutex_lock(&net->lock);
    bool ready = net->ready;
    *msg = crisp_xstrdup(ready ? "" : net->status_msg);
    pthread_mutex_unlock(&net->lock);
    return ready;
}

/* The netns to hand to DEL: "" when the pinned file is no longer a netns. */
static const char *live_netns(const char *path)
{
    struct statfs fs;
    if (!path || statfs(path, &fs) < 0 || fs.f_type != NSFS_MAGIC)
        return "";
    return path;
}

static struct crisp_cni_invocation invocation(const char *command, const char *pod_id,
                                              const json_t *record)
{
    return (struct crisp_cni_invocation){
        .command = command,
        .container_id = pod_id,
        .netns = live_netns(json_string_value(json_object_get(record, "netns"))),
        .ifname = POD_IFNAME,
        .args = json_string_value(json_object_get(record, "args"))
                    ? json_string_value(json_object_get(record, "args"))
                    : "",
    };
}

static int del_record(struct crisp_network *net, const char *pod_id, const json_t *record,
                      struct crisp_err *err)
{
    struct crisp_cni_invocation inv = invocation("DEL", pod_id, record);
    int r = crisp_cni_list_del(&net->dirs, json_object_get(record, "conflist"),
                               json_object_get(record, "capabilities"), &inv,
                               json_object_get(record, "result"), err);
    if (r == 0)
        r = crisp_net_record_remove(net->records_dir, pod_id, err);
    if (r == 0)
        log_info("network", "%s: released from network \"%s\"", pod_id,
                 json_string_value(json_object_get(json_object_get(record, "conflist"), "name")));
    return r;
}

/* The record written before ADD: everything DEL needs. */
static int new_record(struct crisp_network *net, const struct crisp_network_pod *pod, json_t **out,
                      struct crisp_err *err)
{
    struct crisp_cni_conf conf;
    int r = crisp_cni_conf_load_dir(net->conf_dir, &conf, err);
    if (r < 0) {
        crisp_err_prefix(err, "pod needs a network, but CNI is not ready");
        return r;
    }
    json_t *caps = NULL;
    _cleanup_free_ char *args = NULL;
    r = crisp_cni_capabilities(pod->config, &caps, err);
    if (r == 0)
        r = crisp_cni_args(pod->config, pod->id, &args, err);
    if (r == 0)
        *out = json_pack("{s:s, s:s, s:s, s:O, s:o}", "netns", pod->netns, "args", args,
                         "conf_path", conf.path, "conflist", conf.list, "capabilities", caps);
    else
        json_decref(caps);
    crisp_cni_conf_free(&conf);
    return r;
}

static int ips_of(const json_t *result, const char *plugin, char ***ips, size_t *n,
                  struct crisp_err *err)
{
    struct crisp_cni_result res;
    int r = crisp_cni_result_parse(result, plugin, &res, err);
    if (r < 0)
        return r;
    *ips = crisp_cni_result_pod_ips(&res, POD_IFNAME, n);
    crisp_cni_result_free(&res);
    return 0;
}

/* Undoes a failed ADD; the first error stays in err. */
static void undo_add(struct crisp_network *net, const char *pod_id, const json_t *record)
{
    struct crisp_err del_err;
    if (del_record(net, pod_id, record, &del_err) < 0)
        log_error("network", "%s: cleaning up after a failed ADD: %s (kept for a retry)", pod_id,
                  del_err.msg);
}

struct crisp_network_add {
    char *pod_id, *netns;
    json_t *record;
    struct crisp_cni_proc first;
};

static void add_free(struct crisp_network_add *add)
{
    free(add->pod_id);
    free(add->netns);
    json_decref(add->record);
    free(add);
}

static struct crisp_cni_invocation add_invocation(const struct crisp_network_add *add)
{
    struct crisp_cni_invocation inv = invocation("ADD", add->pod_id, add->record);
    inv.netns = add->netns; /* not made yet when the first plugin starts */
    return inv;
}

int crisp_network_attach_begin(struct crisp_network *net, const struct crisp_network_pod *pod,
                               struct crisp_network_add **out, struct crisp_err *err)
{
    *out = NULL;
    json_t *record = NULL;
    int r = new_record(net, pod, &record, err);
    if (r < 0)
        return r;
    struct crisp_network_add *add = crisp_xcalloc(1, sizeof(*add));
    add->pod_id = crisp_xstrdup(pod->id);
    add->netns = crisp_xstrdup(pod->netns);
    add->record = record;
    r = crisp_net_record_save(net->records_dir, pod->id, record, err);
    struct crisp_cni_invocation inv = add_invocation(add);
    if (r == 0)
        r = crisp_cni_list_start_first(&net->dirs, json_object_get(record, "conflist"), &inv,
                                       &add->first, err);
    if (r < 0) {
        struct crisp_err ignored;
        crisp_net_record_remove(net->records_dir, pod->id, &ignored); /* nothing was added */
        add_free(add);
        return r;
    }
    *out = add;
    return 0;
}

void crisp_network_attach_cancel(struct crisp_network *net, struct crisp_network_add *add)
{
    if (!add)
        return;
    crisp_cni_cancel(&add->first); /* it never had its config: nothing was added */
    struct crisp_err err;
    if (crisp_net_record_remove(net->records_dir, add->pod_id, &err) < 0)
        log_warn("network", "%s: %s (a DEL will release it)", add->pod_id, err.msg);
    add_free(add);
}

int crisp_network_attach_finish(struct crisp_network *net, struct crisp_network_add *add,
                                char ***ips, size_t *n_ips, struct crisp_err *err)
{
    *ips = NULL;
    *n_ips = 0;
    struct crisp_cni_invocation inv = add_invocation(add);
    json_t *record = add->record, *result = NULL;
    const json_t *list = json_object_get(record, "conflist");
    int r = crisp_cni_list_add_started(&net->dirs, list, json_object_get(record, "capabilities"),
                                       &inv, &add->first, &result, err);
    if (r == 0) {
        json_object_set_new(record, "result", result);
        r = ips_of(result, json_string_value(json_object_get(list, "name")), ips, n_ips, err);
    }
    if (r == 0)
        r = crisp_net_record_save(net->records_dir, add->pod_id, record, err);
    if (r < 0) {
        undo_add(net, add->pod_id, record);
        for (size_t i = 0; *ips && i < *n_ips; i++)
            free((*ips)[i]);
        free(*ips);
        *ips = NULL;
        *n_ips = 0;
    } else {
        log_info("network", "%s: attached to network \"%s\" with %s", add->pod_id,
                 json_string_value(json_object_get(list, "name")), *n_ips ? (*ips)[0] : "no IP");
    }
    add_free(add);
    return r;
}

int crisp_network_check(struct crisp_network *net, const char *pod_id, struct crisp_err *err)
{
    _cleanup_json_ json_t *record = crisp_net_record_load(net->records_dir, pod_id);
    if (!record || !json_object_get(record, "result"))
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT,
                            "pod sandbox %s has no network attachment", pod_id);
    struct crisp_cni_invocation inv = invocation("CHECK", pod_id, record);
    return crisp_cni_list_check(&net->dirs, json_object_get(record, "conflist"),
                                json_object_get(record, "capabilities"), &inv,
                                json_object_get(record, "result"), err);
}

int crisp_network_detach(struct crisp_network *net, const char *pod_id, struct crisp_err *err)
{
    _cleanup_json_ json_t *record = crisp_net_record_load(net->records_dir, pod_id);
    return record ? del_record(net, pod_id, record, err) : 0;
}

json_t *crisp_network_result(struct crisp_network *net, const char *pod_id)
{
    _cleanup_json_ json_t *record = crisp_net_record_load(net->records_dir, pod_id);
    return json_incref(json_object_get(record, "result"));
}

char **crisp_network_pod_ips(struct crisp_network *net, const char *pod_id, size_t *n)
{
    _cleanup_json_ json_t *record = crisp_net_record_load(net->records_dir, pod_id);
    const json_t *result = json_object_get(record, "result");
    char **ips = NULL;
    struct crisp_err err;
    if (result && ips_of(result, "(recorded)", &ips, n, &err) == 0)
        return ips;
    *n = 0;
    return crisp_xcalloc(1, sizeof(char *));
}

void crisp_network_recover(struct crisp_network *net, bool (*exists)(void *ctx, const char *id),
                           void *ctx)
{
    size_t n;
    char **ids = crisp_net_record_list(net->records_dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (!exists(ctx, ids[i])) {
            struct crisp_err err;
            log_warn("network", "%s: pod is gone but its network attachment is not; releasing it",
                     ids[i]);
            if (crisp_network_detach(net, ids[i], &err) < 0)
                log_error("network", "%s: %s (kept for the next start)", ids[i], err.msg);
        }
        free(ids[i]);
    }
    free(ids);
}
