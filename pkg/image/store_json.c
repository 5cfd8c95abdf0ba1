#define _GNU_SOURCE
#include "image/store_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/json.h"
#include "util/mem.h"

static json_t *strings_to_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *image_to_json(const struct crisp_image *img)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:s, s:I}", "id", img->id,
                     "manifest_digest", img->manifest_digest, "repo_tags",
                     strings_to_json(img->repo_tags, img->n_repo_tags), "repo_digests",
                     strings_to_json(img->repo_digests, img->n_repo_digests), "layers",
                     strings_to_json(img->chain_ids, img->n_layers), "blobs",
                     strings_to_json(img->blobs, img->n_blobs), "size", (json_int_t)img->size,
                     "user", img->user, "pulled_at", (json_int_t)img->pulled_at);
}

static int image_from_json(const json_t *j, struct crisp_image *img)
{
    memset(img, 0, sizeof(*img));
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *manifest = json_string_value(json_object_get(j, "manifest_digest"));
    if (!id || !manifest)
        return -EINVAL;
    const char *user = json_string_value(json_object_get(j, "user"));
    img->id = crisp_xstrdup(id);
    img->manifest_digest = crisp_xstrdup(manifest);
    img->repo_tags = crisp_json_strings(json_object_get(j, "repo_tags"), &img->n_repo_tags);
    img->repo_digests =
        crisp_json_strings(json_object_get(j, "repo_digests"), &img->n_repo_digests);
    img->chain_ids = crisp_json_strings(json_object_get(j, "layers"), &img->n_layers);
    img->blobs = crisp_json_strings(json_object_get(j, "blobs"), &img->n_blobs);
    img->size = (uint64_t)json_integer_value(json_object_get(j, "size"));
    img->user = crisp_xstrdup(user ? user : "");
    img->pulled_at = json_integer_value(json_object_get(j, "pulled_at"));
    return 0;
}

static void load_usage(struct crisp_image_store *st, const json_t *layers)
{
    const char *chain;
    const json_t *u;
    st->usage = crisp_xcalloc(json_object_size(layers) + 1, sizeof(*st->usage));
    json_object_foreach((json_t *)layers, chain, u)
    {
        struct crisp_layer_usage *lu = &st->usage[st->n_usage++];
        lu->chain_id = crisp_xstrdup(chain);
        lu->bytes = (uint64_t)json_integer_value(json_object_get(u, "bytes"));
        lu->inodes = (uint64_t)json_integer_value(json_object_get(u, "inodes"));
    }
}

int crisp_store_json_load(struct crisp_image_store *st, struct crisp_err *err)
{
    if (access(st->index_path, F_OK) < 0 && errno == ENOENT)
        return 0;
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_load_file(st->index_path, 0, &jerr);
    if (!doc)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO,
                            "%s is damaged (%s): move it away to start with an empty image store",
                            st->index_path, jerr.text);
    const json_t *images = json_object_get(doc, "images");
    st->images = crisp_xcalloc(json_array_size(images) + 1, sizeof(*st->images));
    size_t i;
    const json_t *j;
    json_array_foreach(images, i, j)
    {
        if (image_from_json(j, &st->images[st->n_images]) == 0)
            st->n_images++;
        else
            log_warn("store", "%s: skipping image entry %zu without id", st->index_path, i);
    }
    load_usage(st, json_object_get(doc, "layers"));
    return 0;
}

int crisp_store_json_save(struct crisp_image_store *st, struct crisp_err *err)
{
    json_t *images = json_array();
    for (size_t i = 0; i < st->n_images; i++)
        json_array_append_new(images, image_to_json(&st->images[i]));
    json_t *layers = json_object();
    for (size_t i = 0; i < st->n_usage; i++)
        json_object_set_new(layers, st->usage[i].chain_id,
                            json_pack("{s:I, s:I}", "bytes", (json_int_t)st->usage[i].bytes,
                                      "inodes", (json_int_t)st->usage[i].inodes));
    _cleanup_json_ json_t *doc =
        json_pack("{s:i, s:o, s:o}", "version", 1, "images", images, "layers", layers);
    _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
    return crisp_write_file_atomic(st->index_path, text, strlen(text), 0600, err);
}
