/* Resolving a container's user and groups the way the kubelet expects:
 * run_as_user / run_as_username / run_as_group from the CRI, else the image's
 * User ("uid", "uid:gid", "name", "name:group"), against the /etc/passwd and
 * /etc/group found in the image's layers (top layer first, whiteouts honoured).
 * Supplementary groups: the groups naming the user in /etc/group (unless the
 * policy is Strict) plus the CRI's supplemental_groups. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct crisp_user_request {
    bool has_uid;
    int64_t uid;
    bool has_gid;
    int64_t gid;
    const char *username;   /* "" when unset */
    const char *image_user; /* the image config's User, "" when unset */
    const int64_t *supplemental;
    size_t n_supplemental;
    bool strict; /* SupplementalGroupsPolicy Strict: no groups from /etc/group */
};

struct crisp_user {
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t n_groups;
};

int crisp_user_resolve(char *const *layers, size_t n_layers, const struct crisp_user_request *req,
                       struct crisp_user *out, struct crisp_err *err);
void crisp_user_free(struct crisp_user *u);

/* Reads a file of the image (path relative to the root, e.g. "etc/passwd")
 * from the topmost layer that has it, never following a symlink out of a
 * layer. -ENOENT when no layer has it (or a whiteout hides it). */
int crisp_layers_read_file(char *const *layers, size_t n_layers, const char *path, size_t max_size,
                           char **data, struct crisp_err *err);
