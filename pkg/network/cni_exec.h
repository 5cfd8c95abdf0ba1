/* Runs one CNI plugin the way the spec says: execve of <bin dir>/<type>
 * with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and
 * CNI_PATH in an otherwise minimal environment, the network config on
 * stdin, the result (or error) on stdout, bounded by a timeout after which
 * the plugin is killed. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

struct crisp_cni_plugin_dirs {
    char *const *bin_dirs;
    size_t n_bin_dirs;
    int timeout_seconds;
};

struct crisp_cni_invocation {
    const char *command; /* ADD, CHECK, DEL, VERSION */
    const char *container_id;
    const char *netns; /* "" when there is none (DEL of a vanished netns) */
    const char *ifname;
    const char *args; /* CNI_ARGS */
};

/* Finds the plugin binary; FAILED_PRECONDITION naming the dirs when missing. */
int crisp_cni_find_plugin(const struct crisp_cni_plugin_dirs *dirs, const char *type, char **path,
                          struct crisp_err *err);

/* Runs the plugin with config on stdin. On success *result is its stdout as
 * JSON (NULL when it printed nothing, as DEL may). A failed plugin gives its
 * error's msg and details (or its stderr) with the command and type. */
int crisp_cni_exec(const struct crisp_cni_plugin_dirs *dirs, const char *type,
                   const struct crisp_cni_invocation *inv, const json_t *config, json_t **result,
                   struct crisp_err *err);
