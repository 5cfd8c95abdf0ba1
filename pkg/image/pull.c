#define _GNU_SOURCE
#include "image/pull.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/layer_fetch.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

struct pull {
    struct crisp_image_store *st;
    const struct crisp_config *cfg;
    struct crisp_registry reg;
    struct crisp_image_ref ref;
    char *name;                                 /* "docker.io/library/busybox" */
    char top_digest[CRISP_DIGEST_LEN + 1];      /* what the tag points at (index or manifest) */
    char manifest_digest[CRISP_DIGEST_LEN + 1]; /* this platform's manifest */
    struct crisp_manifest manifest;
    struct crisp_image_config config;
    char **chain_ids;
};

static void pull_free(struct pull *p)
{
    crisp_registry_free(&p->reg);
    crisp_image_ref_free(&p->ref);
    free(p->name);
    crisp_manifest_free(&p->manifest);
    for (size_t i = 0; p->chain_ids && i < p->config.n_diff_ids; i++)
        free(p->chain_ids[i]);
    free(p->chain_ids);
    crisp_image_config_free(&p->config);
}

/* Fetches a manifest by tag or digest into mem, checking its digest. */
static int fetch_manifest(struct pull *p, const char *reference, struct crisp_mem_sink *mem,
                          struct crisp_http_response *resp, char digest[CRISP_DIGEST_LEN + 1],
                          struct crisp_err *err)
{
    struct crisp_http_sink sink = crisp_mem_sink(mem);
    int r = crisp_registry_get(&p->reg, "manifests", reference, CRISP_MANIFEST_ACCEPT, &sink, resp,
                               err);
    if (r < 0)
        return r;
    crisp_sha256_of(mem->data ? mem->data : "", mem->len, digest);
    if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, digest) != 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EIO,
                            "manifest %s from %s has digest %s: corrupted or tampered with",
                            reference, p->reg.host, digest);
    return crisp_blob_put(&p->st->blobs, digest, mem->data ? mem->data : "", mem->len, err);
}

/* Resolves the reference to this platform's manifest. */
static int resolve_manifest(struct pull *p, struct crisp_err *err)
{
    struct crisp_mem_sink mem = {.max = CRISP_MANIFEST_MAX};
    struct crisp_http_response resp;
    const char *reference = p->ref.digest ? p->ref.digest : p->ref.tag;
    enum crisp_manifest_kind kind;
    int r = fetch_manifest(p, reference, &mem, &resp, p->top_digest, err);
    if (r == 0)
        r = crisp_manifest_kind_of(resp.content_type, mem.data, mem.len, &kind, err);
    memcpy(p->manifest_digest, p->top_digest, sizeof(p->manifest_digest));
    if (r == 0 && kind == CRISP_MANIFEST_INDEX) {
        struct crisp_descriptor chosen;
        r = crisp_index_select(mem.data, mem.len, &chosen, err);
        if (r == 0) {
            mem.len = 0;
            r = fetch_manifest(p, chosen.digest, &mem, &resp, p->manifest_digest, err);
            crisp_descriptor_free(&chosen);
        }
        if (r == 0)
            r = crisp_manifest_kind_of(resp.content_type, mem.data, mem.len, &kind, err);
        if (r == 0 && kind != CRISP_MANIFEST_IMAGE)
            r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                             "index entry %s is itself an index", p->manifest_digest);
    }
    if (r == 0)
        r = crisp_manifest_parse(mem.data, mem.len, &p->manifest, err);
    crisp_mem_sink_free(&mem);
    return r;
}

static int fetch_config(struct pull *p, struct crisp_err *err)
{
    const struct crisp_descriptor *d = &p->manifest.config;
    if (d->size > (int64_t)CRISP_CONFIG_MAX)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EFBIG,
                            "image config %s is %lld bytes, more than crisp accepts (%u)",
                            d->digest, (long long)d->size, CRISP_CONFIG_MAX);
    struct crisp_mem_sink mem = {.max = CRISP_CONFIG_MAX};
    struct crisp_http_sink sink = crisp_mem_sink(&mem);
    struct crisp_http_response resp;
    int r = crisp_registry_get(&p->reg, "blobs", d->digest, NULL, &sink, &resp, err);
    if (r == 0)
        r = crisp_blob_put(&p->st->blobs, d->digest, mem.data ? mem.data : "", mem.len, err);
    if (r == 0)
        r = crisp_image_config_parse(mem.data, mem.len, &p->config, err);
    if (r == 0 && p->config.n_diff_ids != p->manifest.n_layers)
        r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                         "image config lists %zu diff_ids for %zu layers", p->config.n_diff_ids,
                         p->manifest.n_layers);
    crisp_mem_sink_free(&mem);
    return r;
}

/* chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)). */
static void compute_chain_ids(struct pull *p)
{
    p->chain_ids = crisp_xcalloc(p->config.n_diff_ids + 1, sizeof(char *));
    for (size_t i = 0; i < p->config.n_diff_ids; i++) {
        if (i == 0) {
            p->chain_ids[i] = crisp_xstrdup(p->config.diff_ids[0]);
            continue;
        }
        _cleanup_free_ char *joined =
            crisp_xasprintf("%s %s", p->chain_ids[i - 1], p->config.diff_ids[i]);
        p->chain_ids[i] = crisp_xmalloc(CRISP_DIGEST_LEN + 1);
        crisp_sha256_of(joined, strlen(joined), p->chain_ids[i]);
    }
}

static void add_unique(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = crisp_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = crisp_xstrdup(s);
}

static int record_image(struct pull *p, struct crisp_err *err)
{
    struct crisp_image img = {0};
    img.id = p->manifest.config.digest;
    img.manifest_digest = p->manifest_digest;
    /* name:tag@digest pulls the digest; the tag may point elsewhere: not recorded */
    _cleanup_free_ char *tag = p->ref.digest ? NULL : crisp_image_ref_repo_tag(&p->ref);
    _cleanup_free_ char *digested = crisp_image_ref_repo_digest(&p->ref, p->top_digest);
    char *tags[] = {tag}, *digests[] = {digested};
    img.repo_tags = tags;
    img.n_repo_tags = tag ? 1 : 0;
    img.repo_digests = digests;
    img.n_repo_digests = 1;
    img.chain_ids = p->chain_ids;
    img.n_layers = p->config.n_diff_ids;
    img.size = (uint64_t)p->manifest.config.size;
    size_t n_blobs = 0;
    char **blobs = NULL;
    add_unique(&blobs, &n_blobs, p->top_digest);
    add_unique(&blobs, &n_blobs, p->manifest_digest);
    add_unique(&blobs, &n_blobs, p->manifest.config.digest);
    for (size_t i = 0; i < p->manifest.n_layers; i++) {
        add_unique(&blobs, &n_blobs, p->manifest.layers[i].digest);
        img.size += (uint64_t)p->manifest.layers[i].size;
    }
    img.blobs = blobs;
    img.n_blobs = n_blobs;
    img.user = p->config.user;
    img.pulled_at = (int64_t)time(NULL);
    int r = crisp_image_store_add(p->st, &img, err);
    for (size_t i = 0; i < n_blobs; i++)
        free(blobs[i]);
    free(blobs);
    return r;
}

static int pull_steps(struct pull *p, const char *image, const struct crisp_registry_creds *creds,
                      struct crisp_err *err)
{
    int r = crisp_image_ref_parse(image, &p->ref, err);
    if (r < 0)
        return r;
    p->name = crisp_image_ref_name(&p->ref);
    r = crisp_registry_init(&p->reg, p->cfg, p->ref.domain, p->ref.path, creds, err);
    if (r == 0)
        r = resolve_manifest(p, err);
    if (r == 0)
        r = fetch_config(p, err);
    if (r < 0)
        return r;
    compute_chain_ids(p);
    struct crisp_layer_fetch lf = {.st = p->st,
                                   .reg = &p->reg,
                                   .cfg = p->cfg,
                                   .layers = p->manifest.layers,
                                   .diff_ids = p->config.diff_ids,
                                   .chain_ids = p->chain_ids,
                                   .n_layers = p->manifest.n_layers};
    r = crisp_fetch_layers(&lf, err);
    return r < 0 ? r : record_image(p, err);
}

int crisp_image_pull(struct crisp_image_store *st, const struct crisp_config *cfg,
                     const char *image, const struct crisp_registry_creds *creds, char **image_id,
                     struct crisp_err *err)
{
    struct pull p = {.st = st, .cfg = cfg};
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    crisp_image_store_pull_begin(st);
    int r = pull_steps(&p, image, creds, err);
    crisp_image_store_pull_end(st, r < 0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double secs = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    if (r == 0) {
        log_info("pull", "pulled %s as %s in %.2fs", image, p.manifest.config.digest, secs);
        *image_id = crisp_xstrdup(p.manifest.config.digest);
    } else {
        log_warn("pull", "pull of %s failed after %.2fs: %s", image, secs, err->msg);
    }
    pull_free(&p);
    return r;
}
