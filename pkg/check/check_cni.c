/* CNI: the network configuration directory, the first valid network config
 * in it (libcni's order: file names sorted), and the plugin binaries it
 * names. Without a config, the plugins of crisp's default conflist. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/check.h"
#include "util/cleanup.h"
#include "util/mem.h"

#define MAX_PLUGINS 16

static const char *const default_plugins[] = {"bridge", "host-local", "loopback", "portmap"};

static const char plugins_fix[] =
    "apt-get install containernetworking-plugins (Debian installs them in /usr/lib/cni), or "
    "unpack the CNI plugins release (github.com/containernetworking/plugins) into /opt/cni/bin";

struct plugin_list {
    const char *types[MAX_PLUGINS]; /* borrowed from the parsed config or static */
    size_t n;
};

static void plugin_list_add(struct plugin_list *list, const char *type)
{
    if (!type || !*type)
        return;
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->types[i], type) == 0)
            return;
    if (list->n < MAX_PLUGINS)
        list->types[list->n++] = type;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static int is_network_config(const struct dirent *d)
{
    return d->d_name[0] != '.' &&
           (has_suffix(d->d_name, ".conflist") || has_suffix(d->d_name, ".conf") ||
            has_suffix(d->d_name, ".json"));
}

/* Adds a plugin's type and its IPAM plugin's type. Returns false when the
 * plugin has no type. */
static bool add_plugin(struct plugin_list *list, json_t *plugin)
{
    const char *type = json_string_value(json_object_get(plugin, "type"));
    if (!type || !*type)
        return false;
    plugin_list_add(list, type);
    plugin_list_add(list,
                    json_string_value(json_object_get(json_object_get(plugin, "ipam"), "type")));
    return true;
}

/* Parses one config file into list; returns false with why filled when it is
 * not a usable network config. */
static bool parse_config(const char *path, bool is_list, json_t **doc_out, struct plugin_list *list,
                         char *why, size_t why_size)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(why, why_size, "invalid JSON: %s (line %d)", jerr.text, jerr.line);
        return false;
    }
    *doc_out = doc;
    if (!json_is_object(doc)) {
        snprintf(why, why_size, "not a JSON object");
        return false;
    }
    if (!is_list) {
        if (!add_plugin(list, doc)) {
            snprintf(why, why_size, "no \"type\"");
            return false;
        }
        return true;
    }
    json_t *plugins = json_object_get(doc, "plugins");
    if (!json_is_array(plugins) || json_array_size(plugins) == 0) {
        snprintf(why, why_size, "no \"plugins\" list");
        return false;
    }
    size_t i;
    json_t *plugin;
    json_array_foreach(plugins, i, plugin)
    {
        if (!add_plugin(list, plugin)) {
            snprintf(why, why_size, "plugin %zu has no \"type\"", i);
            return false;
        }
    }
    return true;
}

static void check_plugin(const struct crisp_check_paths *paths, const char *type,
                         struct crisp_check_report *rep)
{
    _cleanup_free_ char *item = crisp_xasprintf("cni: plugin %s", type);
    if (strchr(type, '/')) {
        crisp_check_missing(rep, item, "name the plugin by its file name only",
                            "invalid plugin type \"%s\"", type);
        return;
    }
    size_t dirs_len = 1;
    for (size_t i = 0; i < paths->n_cni_bin_dirs; i++) {
        _cleanup_free_ char *path = crisp_xasprintf("%s/%s", paths->cni_bin_dirs[i], type);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
            crisp_check_ok(rep, item, "%s", path);
            return;
        }
        dirs_len += strlen(paths->cni_bin_dirs[i]) + 2;
    }
    _cleanup_free_ char *dirs = crisp_xcalloc(1, dirs_len);
    for (size_t i = 0; i < paths->n_cni_bin_dirs; i++) {
        if (i)
            strcat(dirs, ", ");
        strcat(dirs, paths->cni_bin_dirs[i]);
    }
    crisp_check_missing(rep, item, plugins_fix, "no executable %s in %s", type,
                        paths->n_cni_bin_dirs ? dirs : "(no plugin directory)");
}

static void check_plugins(const struct crisp_check_paths *paths, const struct plugin_list *list,
                          struct crisp_check_report *rep)
{
    for (size_t i = 0; i < list->n; i++)
        check_plugin(paths, list->types[i], rep);
}

static void check_default_plugins(const struct crisp_check_paths *paths,
                                  struct crisp_check_report *rep)
{
    struct plugin_list list = {0};
    for (size_t i = 0; i < sizeof(default_plugins) / sizeof(default_plugins[0]); i++)
        plugin_list_add(&list, default_plugins[i]);
    check_plugins(paths, &list, rep);
}

/* Finds the first valid config among the sorted entries, reports it and
 * checks its plugins. */
static void check_configs(const struct crisp_check_paths *paths, struct dirent **entries, int n,
                          struct crisp_check_report *rep, const char *fix)
{
    const char *dir = paths->cni_conf_dir;
    char first_why[512] = "";
    const char *first_bad = NULL;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, name);
        _cleanup_json_ json_t *doc = NULL;
        struct plugin_list list = {0};
        char why[512];
        if (!parse_config(path, has_suffix(name, ".conflist"), &doc, &list, why, sizeof(why))) {
            if (!first_bad) {
                first_bad = name;
                snprintf(first_why, sizeof(first_why), "%s", why);
            }
            continue;
        }
        const char *net = json_string_value(json_object_get(doc, "name"));
        char types[256] = "";
        for (size_t t = 0; t < list.n; t++) {
            size_t len = strlen(types);
            snprintf(types + len, sizeof(types) - len, "%s%s", t ? " " : "", list.types[t]);
        }
        crisp_check_ok(rep, "cni: network config", "%s (network \"%s\", plugins %s)", path,
                       net ? net : "", types);
        check_plugins(paths, &list, rep);
        return;
    }
    crisp_check_missing(rep, "cni: network config", fix, "no valid network config in %s: %s: %s",
                        dir, first_bad, first_why);
    check_default_plugins(paths, rep);
}

void crisp_check_cni(const struct crisp_check_paths *paths, struct crisp_check_report *rep)
{
    const char *dir = paths->cni_conf_dir;
    _cleanup_free_ char *fix = crisp_xasprintf(
        "install the cluster's network add-on (it writes its config into %s), or on a single "
        "node crisp's default bridge conflist: mkdir -p %s and copy a *.conflist into it (make "
        "install does, from deploy/cni/)",
        dir, dir);
    struct stat st;
    if (stat(dir, &st) < 0) {
        crisp_check_missing(rep, "cni: config dir", fix,
                            "%s: %s: pods cannot get a network, the kubelet will report "
                            "NetworkReady=false",
                            dir, strerror(errno));
        check_default_plugins(paths, rep);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        crisp_check_missing(rep, "cni: config dir", fix, "%s is not a directory", dir);
        check_default_plugins(paths, rep);
        return;
    }
    crisp_check_ok(rep, "cni: config dir", "%s", dir);
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, is_network_config, alphasort);
    if (n <= 0) {
        if (n < 0)
            crisp_check_missing(rep, "cni: network config", fix, "cannot list %s: %s", dir,
                                strerror(errno));
        else
            crisp_check_missing(rep, "cni: network config", fix,
                                "%s has no network config (*.conflist, *.conf, *.json)", dir);
        check_default_plugins(paths, rep);
        return;
    }
    check_configs(paths, entries, n, rep, fix);
    for (int i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
}
