#define _GNU_SOURCE
#include "network/cni_list.h"

#include <errno.h>
#include <string.h>

#include "network/cni_capabilities.h"
#include "util/cleanup.h"

json_t *crisp_cni_plugin_config(const json_t *list, const json_t *plugin,
                                const json_t *capabilities, const json_t *prev_result)
{
    json_t *conf = json_deep_copy(plugin);
    json_object_set(conf, "name", json_object_get(list, "name"));
    json_object_set(conf, "cniVersion", json_object_get(list, "cniVersion"));
    json_t *rc = crisp_cni_runtime_config(plugin, capabilities);
    if (rc)
        json_object_set_new(conf, "runtimeConfig", rc);
    if (prev_result)
        json_object_set(conf, "prevResult", (json_t *)prev_result);
    return conf;
}

static const char *plugin_type(const json_t *plugin)
{
    return json_string_value(json_object_get(plugin, "type"));
}

int crisp_cni_list_start_first(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                               const struct crisp_cni_invocation *inv, struct crisp_cni_proc *first,
                               struct crisp_err *err)
{
    const json_t *plugin = json_array_get(json_object_get(list, "plugins"), 0);
    if (!plugin)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "CNI network \"%s\" has no plugins",
                            json_string_value(json_object_get(list, "name")));
    return crisp_cni_start(dirs, plugin_type(plugin), inv, first, err);
}

int crisp_cni_list_add_started(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                               const json_t *capabilities, const struct crisp_cni_invocation *inv,
                               struct crisp_cni_proc *first, json_t **result, struct crisp_err *err)
{
    const json_t *plugins = json_object_get(list, "plugins");
    _cleanup_json_ json_t *prev = NULL;
    for (size_t i = 0; i < json_array_size(plugins); i++) {
        const json_t *plugin = json_array_get(plugins, i);
        _cleanup_json_ json_t *conf = crisp_cni_plugin_config(list, plugin, capabilities, prev);
        json_t *out = NULL;
        int r = i == 0 && first ? crisp_cni_finish(dirs, inv, first, conf, &out, err)
                                : crisp_cni_exec(dirs, plugin_type(plugin), inv, conf, &out, err);
        if (r == 0 && !json_is_object(out))
            r = crisp_errorf(err, GRPC_STATUS_INTERNAL, EPROTO,
                             "CNI plugin %s ADD printed no result object", plugin_type(plugin));
        if (r < 0) {
            json_decref(out);
            return r;
        }
        json_decref(prev);
        prev = out;
    }
    *result = crisp_steal_ptr(prev);
    return 0;
}

int crisp_cni_list_check(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                         const json_t *capabilities, const struct crisp_cni_invocation *inv,
                         const json_t *cached, struct crisp_err *err)
{
    const json_t *plugins = json_object_get(list, "plugins");
    if (json_is_true(json_object_get(list, "disableCheck")))
        return 0;
    for (size_t i = 0; i < json_array_size(plugins); i++) {
        const json_t *plugin = json_array_get(plugins, i);
        _cleanup_json_ json_t *conf = crisp_cni_plugin_config(list, plugin, capabilities, cached);
        _cleanup_json_ json_t *out = NULL;
        int r = crisp_cni_exec(dirs, plugin_type(plugin), inv, conf, &out, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int crisp_cni_list_del(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                       const json_t *capabilities, const struct crisp_cni_invocation *inv,
                       const json_t *cached, struct crisp_err *err)
{
    const json_t *plugins = json_object_get(list, "plugins");
    int first = 0;
    for (size_t i = json_array_size(plugins); i-- > 0;) {
        const json_t *plugin = json_array_get(plugins, i);
        _cleanup_json_ json_t *conf = crisp_cni_plugin_config(list, plugin, capabilities, cached);
        _cleanup_json_ json_t *out = NULL;
        struct crisp_err one;
        int r = crisp_cni_exec(dirs, plugin_type(plugin), inv, conf, &out, &one);
        if (r < 0 && first == 0) {
            first = r;
            *err = one;
        }
    }
    return first;
}
