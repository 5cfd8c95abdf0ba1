/* Runs a network config list the way libcni does: ADD through the plugins
 * in order, each given the previous one's result as prevResult; CHECK and
 * DEL with the list's cached result, DEL in reverse order. Each plugin gets
 * the list's name and cniVersion and the runtimeConfig of the capabilities
 * it declares. */
#pragma once

#include <jansson.h>

#include "network/cni_exec.h"
#include "util/err.h"

/* Starts the list's first plugin for an ADD before its config (with the prevResult chain)
 * is sent: see crisp_cni_proc. */
int crisp_cni_list_start_first(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                               const struct crisp_cni_invocation *inv, struct crisp_cni_proc *first,
                               struct crisp_err *err);
/* ADD with the first plugin already started (or NULL: started here); always ends *first. The
 * final result on success (owned by the caller). */
int crisp_cni_list_add_started(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                               const json_t *capabilities, const struct crisp_cni_invocation *inv,
                               struct crisp_cni_proc *first, json_t **result,
                               struct crisp_err *err);
int crisp_cni_list_check(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                         const json_t *capabilities, const struct crisp_cni_invocation *inv,
                         const json_t *cached, struct crisp_err *err);
/* Calls every plugin even when one fails (so the others still release what
 * they hold) and reports the first failure. cached may be NULL. */
int crisp_cni_list_del(const struct crisp_cni_plugin_dirs *dirs, const json_t *list,
                       const json_t *capabilities, const struct crisp_cni_invocation *inv,
                       const json_t *cached, struct crisp_err *err);

/* The stdin config of one plugin of the list (exposed for the unit tests). */
json_t *crisp_cni_plugin_config(const json_t *list, const json_t *plugin,
                                const json_t *capabilities, const json_t *prev_result);
