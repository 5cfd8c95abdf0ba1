#define _GNU_SOURCE
#include "image/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/reference.h"
#include "image/store_gc.h"
#include "image/store_json.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

int crisp_image_store_init(struct crisp_image_store *st, const char *root, struct crisp_err *err)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->layer_done, NULL);
    st->layers_dir = crisp_xasprintf("%s/layers", root);
    st->index_path = crisp_xasprintf("%s/images.json", root);
    int r = crisp_blobstore_init(&st->blobs, root, err);
    if (r == 0)
        r = crisp_mkdir_p(st->layers_dir, 0711, err);
    if (r == 0)
        r = crisp_store_json_load(st, err);
    if (r == 0)
        crisp_store_gc_locked(st); /* what an interrupted pull left behind */
    return r;
}

void crisp_image_store_free(struct crisp_image_store *st)
{
    crisp_images_free(st->images, st->n_images);
    for (size_t i = 0; i < st->n_usage; i++)
        free(st->usage[i].chain_id);
    free(st->usage);
    for (size_t i = 0; i < st->n_claims; i++)
        free(st->claims[i]);
    free(st->claims);
    crisp_blobstore_free(&st->blobs);
    free(st->layers_dir);
    free(st->index_path);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->layer_done);
    memset(st, 0, sizeof(*st));
}

/* ---- copies ---- */

static char **copy_strings(char *const *v, size_t n)
{
    char **out = crisp_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = crisp_xstrdup(v[i]);
    return out;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void crisp_image_copy(struct crisp_image *dst, const struct crisp_image *src)
{
    *dst = *src;
    dst->id = crisp_xstrdup(src->id);
    dst->manifest_digest = crisp_xstrdup(src->manifest_digest);
    dst->repo_tags = copy_strings(src->repo_tags, src->n_repo_tags);
    dst->repo_digests = copy_strings(src->repo_digests, src->n_repo_digests);
    dst->chain_ids = copy_strings(src->chain_ids, src->n_layers);
    dst->blobs = copy_strings(src->blobs, src->n_blobs);
    dst->user = crisp_xstrdup(src->user ? src->user : "");
}

void crisp_image_free(struct crisp_image *img)
{
    free(img->id);
    free(img->manifest_digest);
    free_strings(img->repo_tags, img->n_repo_tags);
    free_strings(img->repo_digests, img->n_repo_digests);
    free_strings(img->chain_ids, img->n_layers);
    free_strings(img->blobs, img->n_blobs);
    free(img->user);
    memset(img, 0, sizeof(*img));
}

void crisp_images_free(struct crisp_image *imgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crisp_image_free(&imgs[i]);
    free(imgs);
}

/* ---- lookups ---- */

static bool contains(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* "sha256:<hex prefix>" or "<hex prefix>", at least 3 hex digits. */
static const char *id_prefix(const char *ref)
{
    const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
    size_t n = strlen(hex);
    if (n < 3 || n > 64)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)hex[i]) || isupper((unsigned char)hex[i]))
            return NULL;
    return hex;
}

/* Index of the image with a unique id prefix, -1 none, -2 ambiguous. Caller holds the lock. */
static ssize_t find_by_id_prefix(struct crisp_image_store *st, const char *hex)
{
    ssize_t found = -1;
    for (size_t i = 0; i < st->n_images; i++) {
        if (strncmp(st->images[i].id + 7, hex, strlen(hex)) != 0)
            continue;
        if (found >= 0)
            return -2;
        found = (ssize_t)i;
    }
    return found;
}

static ssize_t find_by_name(struct crisp_image_store *st, const struct crisp_image_ref *ref)
{
    _cleanup_free_ char *tagged = crisp_image_ref_repo_tag(ref);
    _cleanup_free_ char *digested =
        ref->digest ? crisp_image_ref_repo_digest(ref, ref->digest) : NULL;
    for (size_t i = 0; i < st->n_images; i++) {
        const struct crisp_image *img = &st->images[i];
        if (digested && contains(img->repo_digests, img->n_repo_digests, digested))
            return (ssize_t)i;
        if (!digested && tagged && contains(img->repo_tags, img->n_repo_tags, tagged))
            return (ssize_t)i;
    }
    return -1;
}

/* Caller holds the lock. *by_tag tells whether ref named a tag. */
static ssize_t find_locked(struct crisp_image_store *st, const char *ref, bool *by_tag,
                           struct crisp_err *err)
{
    *by_tag = false;
    const char *hex = id_prefix(ref);
    if (hex) {
        ssize_t i = find_by_id_prefix(st, hex);
        if (i == -2)
            crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                         "image id prefix \"%s\" matches more than one image", ref);
        if (i != -1)
            return i;
    }
    struct crisp_image_ref parsed;
    if (crisp_image_ref_parse(ref, &parsed, err) < 0)
        return hex ? -1 : -3;
    ssize_t i = find_by_name(st, &parsed);
    *by_tag = !parsed.digest;
    crisp_image_ref_free(&parsed);
    return i;
}

int crisp_image_store_find(struct crisp_image_store *st, const char *ref, struct crisp_image *out,
                           struct crisp_err *err)
{
    bool by_tag;
    pthread_mutex_lock(&st->lock);
    ssize_t i = find_locked(st, ref, &by_tag, err);
    if (i >= 0)
        crisp_image_copy(out, &st->images[i]);
    pthread_mutex_unlock(&st->lock);
    if (i >= 0)
        return 0;
    if (i == -1)
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT, "image \"%s\" not found", ref);
    return -EINVAL; /* err says why */
}

void crisp_image_store_list(struct crisp_image_store *st, struct crisp_image **out, size_t *n)
{
    pthread_mutex_lock(&st->lock);
    *out = crisp_xcalloc(st->n_images + 1, sizeof(**out));
    for (size_t i = 0; i < st->n_images; i++)
        crisp_image_copy(&(*out)[i], &st->images[i]);
    *n = st->n_images;
    pthread_mutex_unlock(&st->lock);
}

/* ---- changes ---- */

static void remove_string(char **v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i], s) == 0) {
            free(v[i]);
            memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(char *));
            (*n)--;
            return;
        }
    }
}

static void add_string(char ***v, size_t *n, const char *s)
{
    if (contains(*v, *n, s))
        return;
    *v = crisp_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = crisp_xstrdup(s);
}

int crisp_image_store_add(struct crisp_image_store *st, const struct crisp_image *img,
                          struct crisp_err *err)
{
    pthread_mutex_lock(&st->lock);
    ssize_t existing = -1;
    for (size_t i = 0; i < st->n_images; i++) {
        for (size_t t = 0; t < img->n_repo_tags; t++) /* a tag names one image */
            remove_string(st->images[i].repo_tags, &st->images[i].n_repo_tags, img->repo_tags[t]);
        if (strcmp(st->images[i].id, img->id) == 0)
            existing = (ssize_t)i;
    }
    if (existing < 0) {
        st->images = crisp_xrealloc(st->images, (st->n_images + 1) * sizeof(*st->images));
        crisp_image_copy(&st->images[st->n_images++], img);
    } else {
        struct crisp_image *cur = &st->images[existing];
        for (size_t t = 0; t < img->n_repo_tags; t++)
            add_string(&cur->repo_tags, &cur->n_repo_tags, img->repo_tags[t]);
        for (size_t d = 0; d < img->n_repo_digests; d++)
            add_string(&cur->repo_digests, &cur->n_repo_digests, img->repo_digests[d]);
        for (size_t b = 0; b < img->n_blobs; b++)
            add_string(&cur->blobs, &cur->n_blobs, img->blobs[b]);
        cur->pulled_at = img->pulled_at;
    }
    int r = crisp_store_json_save(st, err);
    pthread_mutex_unlock(&st->lock);
    return r;
}

int crisp_image_store_remove(struct crisp_image_store *st, const char *ref, struct crisp_err *err)
{
    bool by_tag;
    pthread_mutex_lock(&st->lock);
    ssize_t i = find_locked(st, ref, &by_tag, err);
    int r = i == -3 || i == -2 ? -EINVAL : 0;
    if (i >= 0) {
        struct crisp_image *img = &st->images[i];
        struct crisp_image_ref parsed;
        if (by_tag && img->n_repo_tags > 1 && crisp_image_ref_parse(ref, &parsed, NULL) == 0) {
            _cleanup_free_ char *tag = crisp_image_ref_repo_tag(&parsed);
            remove_string(img->repo_tags, &img->n_repo_tags, tag);
            crisp_image_ref_free(&parsed);
        } else {
            log_info("store", "removing image %s", img->id);
            crisp_image_free(img);
            memmove(img, img + 1, (st->n_images - (size_t)i - 1) * sizeof(*img));
            st->n_images--;
        }
        r = crisp_store_json_save(st, err);
        if (r == 0)
            crisp_store_gc_locked(st);
    }
    pthread_mutex_unlock(&st->lock);
    return r;
}
