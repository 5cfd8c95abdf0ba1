#define _GNU_SOURCE
#include "image/layer_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define PROGRESS_LOG_SECONDS 5

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sink adapter: registry body -> blob writer, with progress lines. */
struct download {
    struct crisp_blob_writer w;
    double started, last_log;
};

static int download_write(void *ctx, const void *data, size_t len, struct crisp_err *err)
{
    struct download *d = ctx;
    int r = crisp_blob_writer_write(&d->w, data, len, err);
    double t = now_seconds();
    if (r == 0 && t - d->last_log >= PROGRESS_LOG_SECONDS) {
        d->last_log = t;
        log_info("pull", "layer %.19s: %llu of %lld bytes (%.1f MB/s)", d->w.digest,
                 (unsigned long long)d->w.written, (long long)d->w.expected_size,
                 (double)d->w.written / (t - d->started) / 1e6);
    }
    return r;
}

static int download_reset(void *ctx, struct crisp_err *err)
{
    return crisp_blob_writer_reset(&((struct download *)ctx)->w, err);
}

static int download_blob(const struct crisp_layer_fetch *lf, const struct crisp_descriptor *d,
                         struct crisp_err *err)
{
    struct download dl = {.started = now_seconds()};
    dl.last_log = dl.started;
    int r = crisp_blob_writer_open(&lf->st->blobs, d->digest, d->size, &dl.w, err);
    if (r < 0)
        return r;
    struct crisp_http_sink sink = {.write = download_write, .reset = download_reset, .ctx = &dl};
    struct crisp_http_response resp;
    r = crisp_registry_get(lf->reg, "blobs", d->digest, NULL, &sink, &resp, err);
    if (r < 0) {
        crisp_blob_writer_abort(&dl.w);
        return r;
    }
    uint64_t bytes = dl.w.written;
    r = crisp_blob_writer_commit(&dl.w, err);
    double secs = now_seconds() - dl.started;
    if (r == 0)
        log_info("pull", "layer %.19s: downloaded %llu bytes in %.2fs (%.1f MB/s)", d->digest,
                 (unsigned long long)bytes, secs, secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
    return r;
}

/* Unpacks the blob into a temp dir, checks the diff_id, moves it into place. */
static int unpack_layer(const struct crisp_layer_fetch *lf, size_t i,
                        struct crisp_unpack_stats *stats, struct crisp_err *err)
{
    const struct crisp_descriptor *d = &lf->layers[i];
    _cleanup_free_ char *tmp = crisp_xasprintf("%s/layer-XXXXXX", lf->st->blobs.tmp_dir);
    if (!mkdtemp(tmp))
        return crisp_syserrf(err, errno, "create %s", tmp);
    _cleanup_free_ char *blob = crisp_blob_path(&lf->st->blobs, d->digest);
    _cleanup_close_ int fd = open(blob, O_RDONLY | O_CLOEXEC);
    int r = fd < 0 ? crisp_syserrf(err, errno, "open %s", blob) : 0;
    if (r == 0 && chmod(tmp, 0755) < 0)
        r = crisp_syserrf(err, errno, "chmod %s", tmp);
    struct crisp_unpack_options opts = {.allow_devices = lf->cfg->allow_device_nodes};
    char diff_id[CRISP_DIFF_ID_SIZE];
    if (r == 0)
        r = crisp_layer_unpack(fd, tmp, &opts, stats, diff_id, err);
    if (r < 0)
        crisp_err_prefix(err, "layer %s", d->digest);
    if (r == 0 && strcmp(diff_id, lf->diff_ids[i]) != 0)
        r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EIO,
                         "layer %s unpacks to %s, but the image config says %s", d->digest, diff_id,
                         lf->diff_ids[i]);
    _cleanup_free_ char *dest = crisp_image_store_layer_dir(lf->st, lf->chain_ids[i]);
    if (r == 0 && rename(tmp, dest) < 0)
        r = crisp_syserrf(err, errno, "rename %s to %s", tmp, dest);
    if (r < 0)
        crisp_remove_tree(tmp);
    return r;
}

static int fetch_one(const struct crisp_layer_fetch *lf, size_t i, struct crisp_err *err)
{
    const char *chain = lf->chain_ids[i];
    if (!crisp_image_store_claim_layer(lf->st, chain))
        return 0; /* present, or just fetched by another pull */
    const struct crisp_descriptor *d = &lf->layers[i];
    uint64_t blob_size = 0;
    int r = 0;
    if (!crisp_blob_exists(&lf->st->blobs, d->digest, &blob_size)) {
        r = download_blob(lf, d, err);
        blob_size = (uint64_t)d->size;
    }
    struct crisp_unpack_stats stats = {0};
    double t = now_seconds();
    if (r == 0)
        r = unpack_layer(lf, i, &stats, err);
    if (r == 0)
        log_info("pull", "layer %.19s: unpacked %llu files, %llu bytes in %.2fs", d->digest,
                 (unsigned long long)(stats.files + stats.dirs), (unsigned long long)stats.bytes,
                 now_seconds() - t);
    crisp_image_store_release_layer(lf->st, chain, stats.bytes + blob_size,
                                    stats.files + stats.dirs + 1, r == 0);
    return r;
}

struct fetch_pool {
    const struct crisp_layer_fetch *lf;
    pthread_mutex_t lock;
    size_t next;
    int rc;
    struct crisp_err err;
};

static void *fetch_worker(void *arg)
{
    struct fetch_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        size_t i = pool->next++;
        bool stop = pool->rc < 0 || i >= pool->lf->n_layers;
        pthread_mutex_unlock(&pool->lock);
        if (stop)
            return NULL;
        struct crisp_err err;
        int r = fetch_one(pool->lf, i, &err);
        pthread_mutex_lock(&pool->lock);
        if (r < 0 && pool->rc == 0) {
            pool->rc = r;
            pool->err = err;
        }
        pthread_mutex_unlock(&pool->lock);
    }
}

int crisp_fetch_layers(const struct crisp_layer_fetch *lf, struct crisp_err *err)
{
    struct fetch_pool pool = {.lf = lf};
    pthread_mutex_init(&pool.lock, NULL);
    size_t n_threads = (size_t)lf->cfg->max_concurrent_downloads;
    if (n_threads > lf->n_layers)
        n_threads = lf->n_layers;
    pthread_t threads[64];
    size_t started = 0;
    for (; started + 1 < n_threads; started++) /* the caller's thread is one of them */
        if (pthread_create(&threads[started], NULL, fetch_worker, &pool) != 0)
            break;
    fetch_worker(&pool);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    if (pool.rc < 0)
        *err = pool.err;
    return pool.rc;
}
