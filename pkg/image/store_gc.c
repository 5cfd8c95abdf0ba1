#define _GNU_SOURCE
#include "image/store_gc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

char *crisp_image_store_layer_dir(const struct crisp_image_store *st, const char *chain_id)
{
    return crisp_xasprintf("%s/%s", st->layers_dir, chain_id + 7);
}

bool crisp_image_store_layer_exists(const struct crisp_image_store *st, const char *chain_id)
{
    _cleanup_free_ char *dir = crisp_image_store_layer_dir(st, chain_id);
    struct stat sb;
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool claimed_locked(const struct crisp_image_store *st, const char *chain_id)
{
    for (size_t i = 0; i < st->n_claims; i++)
        if (strcmp(st->claims[i], chain_id) == 0)
            return true;
    return false;
}

bool crisp_image_store_claim_layer(struct crisp_image_store *st, const char *chain_id)
{
    pthread_mutex_lock(&st->lock);
    while (claimed_locked(st, chain_id))
        pthread_cond_wait(&st->layer_done, &st->lock);
    bool must_fetch = !crisp_image_store_layer_exists(st, chain_id);
    if (must_fetch) {
        st->claims = crisp_xrealloc(st->claims, (st->n_claims + 1) * sizeof(char *));
        st->claims[st->n_claims++] = crisp_xstrdup(chain_id);
    }
    pthread_mutex_unlock(&st->lock);
    return must_fetch;
}

static void set_usage_locked(struct crisp_image_store *st, const char *chain_id, uint64_t bytes,
                             uint64_t inodes)
{
    for (size_t i = 0; i < st->n_usage; i++) {
        if (strcmp(st->usage[i].chain_id, chain_id) == 0) {
            st->usage[i].bytes = bytes;
            st->usage[i].inodes = inodes;
            return;
        }
    }
    st->usage = crisp_xrealloc(st->usage, (st->n_usage + 1) * sizeof(*st->usage));
    st->usage[st->n_usage++] = (struct crisp_layer_usage){
        .chain_id = crisp_xstrdup(chain_id), .bytes = bytes, .inodes = inodes};
}

void crisp_image_store_release_layer(struct crisp_image_store *st, const char *chain_id,
                                     uint64_t bytes, uint64_t inodes, bool ok)
{
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n_claims; i++) {
        if (strcmp(st->claims[i], chain_id) == 0) {
            free(st->claims[i]);
            st->claims[i] = st->claims[--st->n_claims];
            break;
        }
    }
    if (ok)
        set_usage_locked(st, chain_id, bytes, inodes);
    pthread_cond_broadcast(&st->layer_done);
    pthread_mutex_unlock(&st->lock);
}

void crisp_image_store_pull_begin(struct crisp_image_store *st)
{
    pthread_mutex_lock(&st->lock);
    st->pulls_active++;
    pthread_mutex_unlock(&st->lock);
}

void crisp_image_store_pull_end(struct crisp_image_store *st, bool failed)
{
    pthread_mutex_lock(&st->lock);
    st->gc_pending |= failed;
    if (--st->pulls_active == 0 && st->gc_pending)
        crisp_store_gc_locked(st);
    pthread_mutex_unlock(&st->lock);
}

static bool named_by_an_image(const struct crisp_image_store *st, const char *digest, bool layer)
{
    for (size_t i = 0; i < st->n_images; i++) {
        const struct crisp_image *img = &st->images[i];
        char *const *v = layer ? img->chain_ids : img->blobs;
        size_t n = layer ? img->n_layers : img->n_blobs;
        for (size_t k = 0; k < n; k++)
            if (strcmp(v[k] + 7, digest) == 0)
                return true;
    }
    return false;
}

static void forget_usage_locked(struct crisp_image_store *st, const char *hex)
{
    for (size_t i = 0; i < st->n_usage; i++) {
        if (strcmp(st->usage[i].chain_id + 7, hex) == 0) {
            free(st->usage[i].chain_id);
            st->usage[i] = st->usage[--st->n_usage];
            return;
        }
    }
}

/* Removes every entry of dir (named by hex digest) that no image names. */
static void sweep_dir(struct crisp_image_store *st, const char *dir, bool layers)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (!d) {
        log_warn("store", "garbage collection: open %s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || named_by_an_image(st, e->d_name, layers))
            continue;
        _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, e->d_name);
        log_info("store", "removing unused %s %s", layers ? "layer" : "blob", e->d_name);
        if (layers) {
            crisp_remove_tree(path);
            forget_usage_locked(st, e->d_name);
        } else if (unlink(path) < 0) {
            log_warn("store", "remove %s: %s", path, strerror(errno));
        }
    }
}

void crisp_store_gc_locked(struct crisp_image_store *st)
{
    if (st->pulls_active > 0) {
        st->gc_pending = true;
        return;
    }
    st->gc_pending = false;
    sweep_dir(st, st->layers_dir, true);
    sweep_dir(st, st->blobs.blobs_dir, false);
}

void crisp_image_store_usage(struct crisp_image_store *st, uint64_t *bytes, uint64_t *inodes)
{
    pthread_mutex_lock(&st->lock);
    *bytes = *inodes = 0;
    for (size_t i = 0; i < st->n_usage; i++) {
        *bytes += st->usage[i].bytes;
        *inodes += st->usage[i].inodes;
    }
    pthread_mutex_unlock(&st->lock);
}
