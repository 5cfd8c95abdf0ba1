/* CNI network configurations: a *.conflist, or a single-plugin *.conf or *.json
 * (turned into a one-plugin list), as the CNI spec defines them. The first
 * valid file of the config directory, in name order (libcni's rule), is the
 * pod network. Versions 0.4.0 to 1.1.0 are accepted. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"

struct crisp_cni_conf {
    char *path;        /* the file it came from */
    char *name;        /* the network name */
    char *cni_version; /* of the list, passed to every plugin */
    json_t *list;      /* {"cniVersion","name","plugins":[...],...}; owned */
};

/* True for a CNI version crisp speaks (0.4.0, 1.0.0, 1.1.0). */
bool crisp_cni_version_supported(const char *version);

/* Parses one file's text. is_list: a .conflist (else a single plugin config).
 * INVALID_ARGUMENT saying what is wrong. */
int crisp_cni_conf_parse(const char *path, const char *text, bool is_list,
                         struct crisp_cni_conf *out, struct crisp_err *err);

/* The first valid config in dir. FAILED_PRECONDITION naming dir (and the
 * first invalid file with why) when there is none. */
int crisp_cni_conf_load_dir(const char *dir, struct crisp_cni_conf *out, struct crisp_err *err);

void crisp_cni_conf_free(struct crisp_cni_conf *conf);
