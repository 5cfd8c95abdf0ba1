/* What a container takes from its image's config: entrypoint, cmd, env,
 * working dir, user, stop signal. */
#pragma once

#include <stddef.h>

#include "image/store.h"
#include "util/err.h"

struct crisp_image_defaults {
    char **entrypoint;
    size_t n_entrypoint;
    char **cmd;
    size_t n_cmd;
    char **env; /* "K=V" */
    size_t n_env;
    char *working_dir; /* "" when unset */
    char *user;        /* "" when unset */
    char *stop_signal; /* "" when unset */
};

int crisp_image_defaults_load(struct crisp_image_store *st, const char *image_id,
                              struct crisp_image_defaults *out, struct crisp_err *err);
void crisp_image_defaults_free(struct crisp_image_defaults *d);
