#define _GNU_SOURCE
#include "network/cni_conf.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define CONF_FILE_MAX (1u << 20)

static const char *const supported_versions[] = {"0.4.0", "1.0.0", "1.1.0"};

bool crisp_cni_version_supported(const char *version)
{
    for (size_t i = 0; i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++)
        if (version && strcmp(version, supported_versions[i]) == 0)
            return true;
    return false;
}

static int invalid(struct crisp_err *err, const char *path, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "%s: %s", path, what);
}

/* A plugin needs a "type" that is a bare file name (it is looked up in the
 * plugin directories, never as a path). */
static int check_plugin(const char *path, json_t *plugin, size_t i, struct crisp_err *err)
{
    if (!json_is_object(plugin))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: plugins[%zu]: expected an object", path, i);
    const char *type = json_string_value(json_object_get(plugin, "type"));
    if (!type || !*type || strchr(type, '/') || strcmp(type, ".") == 0 || strcmp(type, "..") == 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: plugins[%zu]: expected \"type\" naming a plugin binary (a file "
                            "name without '/')",
                            path, i);
    return 0;
}

/* A single plugin config becomes a list of one (libcni's ConfListFromConf). */
static json_t *list_from_single(json_t *doc)
{
    json_t *plugin = json_deep_copy(doc);
    json_object_del(plugin, "name");
    json_object_del(plugin, "cniVersion");
    return json_pack("{s:O, s:O, s:[o]}", "cniVersion", json_object_get(doc, "cniVersion"), "name",
                     json_object_get(doc, "name"), "plugins", plugin);
}

static int check_list(const char *path, json_t *list, struct crisp_err *err)
{
    const char *version = json_string_value(json_object_get(list, "cniVersion"));
    if (!version)
        return invalid(err, path, "expected \"cniVersion\" (a string)");
    if (!crisp_cni_version_supported(version))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: cniVersion \"%s\" is not supported (expected 0.4.0, 1.0.0 or "
                            "1.1.0)",
                            path, version);
    const char *name = json_string_value(json_object_get(list, "name"));
    if (!name || !*name)
        return invalid(err, path, "expected \"name\" (a non-empty string)");
    json_t *plugins = json_object_get(list, "plugins");
    if (!json_is_array(plugins) || json_array_size(plugins) == 0)
        return invalid(err, path, "expected \"plugins\" (a non-empty array)");
    size_t i;
    json_t *plugin;
    json_array_foreach(plugins, i, plugin)
    {
        int r = check_plugin(path, plugin, i, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int crisp_cni_conf_parse(const char *path, const char *text, bool is_list,
                         struct crisp_cni_conf *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: invalid JSON: %s (line %d)", path, jerr.text, jerr.line);
    if (!json_is_object(doc))
        return invalid(err, path, "expected a JSON object");
    _cleanup_json_ json_t *list = is_list ? json_incref(doc) : list_from_single(doc);
    int r = check_list(path, list, err);
    if (r < 0)
        return r;
    out->path = crisp_xstrdup(path);
    out->name = crisp_xstrdup(json_string_value(json_object_get(list, "name")));
    out->cni_version = crisp_xstrdup(json_string_value(json_object_get(list, "cniVersion")));
    out->list = crisp_steal_ptr(list);
    return 0;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static int is_config_file(const struct dirent *d)
{
    return d->d_name[0] != '.' &&
           (has_suffix(d->d_name, ".conflist") || has_suffix(d->d_name, ".conf") ||
            has_suffix(d->d_name, ".json"));
}

static int load_file(const char *dir, const char *name, struct crisp_cni_conf *out,
                     struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, name);
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = crisp_read_file(path, CONF_FILE_MAX, &text, &len, err);
    if (r == 0 && strlen(text) != len)
        r = invalid(err, path, "contains a NUL byte");
    if (r == 0)
        r = crisp_cni_conf_parse(path, text, has_suffix(name, ".conflist"), out, err);
    return r;
}

int crisp_cni_conf_load_dir(const char *dir, struct crisp_cni_conf *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, is_config_file, alphasort);
    if (n < 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, errno,
                            "cannot list network configs in %s: %s", dir, strerror(errno));
    char first_bad[CRISP_ERR_MSG_MAX + 4] = "";
    int r = -ENOENT;
    for (int i = 0; i < n; i++) {
        struct crisp_err file_err;
        if (r < 0 && load_file(dir, entries[i]->d_name, out, &file_err) == 0)
            r = 0;
        else if (r < 0 && !*first_bad)
            snprintf(first_bad, sizeof(first_bad), " (%s)", file_err.msg);
        free(entries[i]);
    }
    free(entries);
    if (n == 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "%s has no network config (*.conflist, *.conf, *.json)", dir);
    if (r < 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "no valid network config in %s%.400s", dir, first_bad);
    return 0;
}

void crisp_cni_conf_free(struct crisp_cni_conf *conf)
{
    free(conf->path);
    free(conf->name);
    free(conf->cni_version);
    json_decref(conf->list);
    memset(conf, 0, sizeof(*conf));
}
