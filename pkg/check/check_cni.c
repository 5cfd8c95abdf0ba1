/* CNI: the network configuration directory, the first valid network config
 * in it (libcni's order: file names sorted), and the plugin binaries it
 * names. Without a config, the plugins of crisp's default conflist. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/check.h"
#include "network/cni_conf.h"
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

/* Adds a plugin's type and its IPAM plugin's type. */
static void add_plugin(struct plugin_list *list, const json_t *plugin)
{
    plugin_list_add(list, json_string_value(json_object_get(plugin, "type")));
    plugin_list_add(list,
                    json_string_value(json_object_get(json_object_get(plugin, "ipam"), "type")));
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

/* The config crispd would use (the same loader), and its plugins. */
static void check_network_config(const struct crisp_check_paths *paths,
                                 struct crisp_check_report *rep, const char *fix)
{
    struct crisp_cni_conf conf;
    struct crisp_err err;
    if (crisp_cni_conf_load_dir(paths->cni_conf_dir, &conf, &err) < 0) {
        crisp_check_missing(rep, "cni: network config", fix, "%s", err.msg);
        check_default_plugins(paths, rep);
        return;
    }
    struct plugin_list list = {0};
    size_t i;
    json_t *plugin;
    json_array_foreach(json_object_get(conf.list, "plugins"), i, plugin) add_plugin(&list, plugin);
    char types[256] = "";
    for (size_t t = 0; t < list.n; t++) {
        size_t len = strlen(types);
        snprintf(types + len, sizeof(types) - len, "%s%s", t ? " " : "", list.types[t]);
    }
    crisp_check_ok(rep, "cni: network config", "%s (network \"%s\", plugins %s)", conf.path,
                   conf.name, types);
    check_plugins(paths, &list, rep);
    crisp_cni_conf_free(&conf); /* list borrowed its strings */
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
    check_network_config(paths, rep, fix);
}
