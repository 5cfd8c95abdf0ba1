/* Runs one CNI plugin the way the spec says: execve of <bin dir>/<type>
 * with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and
 * CNI_PATH in an otherwise minimal environment, the network config on
 * stdin, the result (or error) on stdout, bounded by a timeout after which
 * the plugin is killed. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

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

/* A plugin started before its config is known: it waits reading its stdin (plugins read the
 * whole config before they look at CNI_NETNS or anything else), so its start-up (exec, the Go
 * runtime) overlaps what the caller still has to do, such as making the netns. */
struct crisp_cni_proc {
    pid_t pid;
    int in, out, errfd; /* our ends of its stdin, stdout, stderr */
    char *type;
};

/* Starts the plugin with the invocation's environment; *p is valid (for finish or cancel) only
 * when 0 is returned. */
int crisp_cni_start(const struct crisp_cni_plugin_dirs *dirs, const char *type,
                    const struct crisp_cni_invocation *inv, struct crisp_cni_proc *p,
                    struct crisp_err *err);
/* Gives a started plugin its config and waits for it (the timeout counts from here); then
 * as crisp_cni_exec. Always ends *p. */
int crisp_cni_finish(const struct crisp_cni_plugin_dirs *dirs,
                     const struct crisp_cni_invocation *inv, struct crisp_cni_proc *p,
                     const json_t *config, json_t **result, struct crisp_err *err);
/* Kills (its whole process group) and reaps a started plugin that never got its config. */
void crisp_cni_cancel(struct crisp_cni_proc *p);

/* Runs the plugin with config on stdin. On success *result is its stdout as
 * JSON (NULL when it printed nothing, as DEL may). A failed plugin gives its
 * error's msg and details (or its stderr) with the command and type. */
int crisp_cni_exec(const struct crisp_cni_plugin_dirs *dirs, const char *type,
                   const struct crisp_cni_invocation *inv, const json_t *config, json_t **result,
                   struct crisp_err *err);
