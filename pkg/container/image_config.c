#define _GNU_SOURCE
#include "container/image_config.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "image/manifest.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/mem.h"

static char *string(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return crisp_xstrdup(s ? s : "");
}

int crisp_image_defaults_load(struct crisp_image_store *st, const char *image_id,
                              struct crisp_image_defaults *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    int r = crisp_blob_read(&st->blobs, image_id, CRISP_CONFIG_MAX, &data, &len, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_loadb(data, len, 0, &jerr);
    if (!doc)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "image config %s: %s", image_id,
                            jerr.text);
    const json_t *c = json_object_get(doc, "config");
    out->entrypoint = crisp_json_strings(json_object_get(c, "Entrypoint"), &out->n_entrypoint);
    out->cmd = crisp_json_strings(json_object_get(c, "Cmd"), &out->n_cmd);
    out->env = crisp_json_strings(json_object_get(c, "Env"), &out->n_env);
    out->working_dir = string(c, "WorkingDir");
    out->user = string(c, "User");
    out->stop_signal = string(c, "StopSignal");
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void crisp_image_defaults_free(struct crisp_image_defaults *d)
{
    free_strings(d->entrypoint, d->n_entrypoint);
    free_strings(d->cmd, d->n_cmd);
    free_strings(d->env, d->n_env);
    free(d->working_dir);
    free(d->user);
    free(d->stop_signal);
    memset(d, 0, sizeof(*d));
}
