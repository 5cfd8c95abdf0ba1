#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "container/container_internal.h"
#include "image/blobstore.h"
#include "util/ids.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

static enum crisp_ctr_state state_of(struct crisp_ctr *c)
{
    pthread_mutex_lock(&c->lock);
    enum crisp_ctr_state s = c->state;
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* A container a crash left half-created is removed; one whose monitor
 * vanished without an exit record is marked exited. */
static bool reconcile(struct crisp_ctr *c)
{
    if (c->state == CRISP_CTR_CREATING) {
        log_warn("container", "%s: creation was interrupted; removing it", c->id);
        crisp_remove_tree(c->dir);
        crisp_remove_tree(c->rw_dir);
        return false;
    }
    crisp_ctr_refresh_locked(c);
    return true;
}

int crisp_ctr_store_init(struct crisp_ctr_store *cs, const char *state_dir, const char *root_dir,
                         struct crisp_err *err)
{
    memset(cs, 0, sizeof(*cs));
    pthread_mutex_init(&cs->lock, NULL);
    cs->dir = crisp_xasprintf("%s/containers", state_dir);
    cs->rw_dir = crisp_xasprintf("%s/containers", root_dir);
    int r = crisp_mkdir_p(cs->dir, 0700, err);
    if (r == 0)
        r = crisp_mkdir_p(cs->rw_dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_closedir_ DIR *d = opendir(cs->dir);
    if (!d)
        return crisp_syserrf(err, errno, "open %s", cs->dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != CRISP_CTR_ID_LEN)
            continue;
        struct crisp_err load_err;
        struct crisp_ctr *c = crisp_ctr_load(cs, e->d_name, &load_err);
        if (!c) {
            log_warn("container", "skipping %s/%s: %s", cs->dir, e->d_name, load_err.msg);
            continue;
        }
        if (!reconcile(c)) {
            crisp_ctr_free(c);
            continue;
        }
        cs->ctrs = crisp_xrealloc(cs->ctrs, (cs->n_ctrs + 1) * sizeof(*cs->ctrs));
        cs->ctrs[cs->n_ctrs++] = c;
        c->refs = 1;
    }
    log_info("container", "%zu containers restored", cs->n_ctrs);
    return 0;
}

void crisp_ctr_store_free(struct crisp_ctr_store *cs)
{
    for (size_t i = 0; i < cs->n_ctrs; i++)
        crisp_ctr_free(cs->ctrs[i]);
    free(cs->ctrs);
    free(cs->dir);
    free(cs->rw_dir);
    pthread_mutex_destroy(&cs->lock);
    memset(cs, 0, sizeof(*cs));
}

int crisp_ctr_store_get(struct crisp_ctr_store *cs, const char *id, struct crisp_ctr **out,
                        struct crisp_err *err)
{
    size_t len = strlen(id);
    struct crisp_ctr *found = NULL;
    int matches = 0;
    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; len > 0 && i < cs->n_ctrs; i++) {
        if (strncmp(cs->ctrs[i]->id, id, len) == 0 && state_of(cs->ctrs[i]) != CRISP_CTR_CREATING) {
            found = cs->ctrs[i];
            matches++;
        }
    }
    if (matches == 1)
        found->refs++;
    pthread_mutex_unlock(&cs->lock);
    if (matches == 1) {
        *out = found;
        return 0;
    }
    if (matches > 1)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "container id prefix \"%s\" is ambiguous", id);
    return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT, "container \"%s\" not found", id);
}

void crisp_ctr_put(struct crisp_ctr_store *cs, struct crisp_ctr *c)
{
    pthread_mutex_lock(&cs->lock);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&cs->lock);
    if (last)
        crisp_ctr_free(c);
}

void crisp_ctr_store_list(struct crisp_ctr_store *cs, const char *pod_id, struct crisp_ctr ***out,
                          size_t *n)
{
    pthread_mutex_lock(&cs->lock);
    *out = crisp_xcalloc(cs->n_ctrs + 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; i < cs->n_ctrs; i++) {
        struct crisp_ctr *c = cs->ctrs[i];
        if (state_of(c) == CRISP_CTR_CREATING || (pod_id && strcmp(c->pod_id, pod_id) != 0))
            continue;
        c->refs++;
        (*out)[(*n)++] = c;
    }
    pthread_mutex_unlock(&cs->lock);
}

static bool same_name(const struct crisp_ctr *c, const char *pod_id,
                      const Runtime__V1__ContainerMetadata *m)
{
    return strcmp(c->pod_id, pod_id) == 0 && strcmp(c->config->metadata->name, m->name) == 0 &&
           c->config->metadata->attempt == m->attempt;
}

int crisp_ctr_reserve(struct crisp_ctr_store *cs, const char *pod_id,
                      const Runtime__V1__ContainerConfig *config, struct crisp_ctr **out,
                      struct crisp_err *err)
{
    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->n_ctrs; i++) {
        if (same_name(cs->ctrs[i], pod_id, config->metadata)) {
            char holder[CRISP_CTR_ID_LEN + 1];
            memcpy(holder, cs->ctrs[i]->id, sizeof(holder));
            pthread_mutex_unlock(&cs->lock);
            return crisp_errorf(err, GRPC_STATUS_ALREADY_EXISTS, EEXIST,
                                "container name %s (attempt %u) in pod %.12s is reserved by %s",
                                config->metadata->name, config->metadata->attempt, pod_id, holder);
        }
    }
    char id[CRISP_CTR_ID_LEN + 1];
    crisp_random_id(id);
    struct crisp_ctr *c = crisp_ctr_new(cs, id);
    memcpy(c->pod_id, pod_id, CRISP_CTR_ID_LEN + 1);
    size_t len = protobuf_c_message_get_packed_size(&config->base);
    _cleanup_free_ uint8_t *buf = crisp_xmalloc(len ? len : 1);
    protobuf_c_message_pack(&config->base, buf);
    c->config = (Runtime__V1__ContainerConfig *)protobuf_c_message_unpack(
        &runtime__v1__container_config__descriptor, NULL, len, buf);
    c->state = CRISP_CTR_CREATING;
    cs->ctrs = crisp_xrealloc(cs->ctrs, (cs->n_ctrs + 1) * sizeof(*cs->ctrs));
    cs->ctrs[cs->n_ctrs++] = c;
    c->refs = 2; /* the table's and the caller's */
    pthread_mutex_unlock(&cs->lock);
    *out = c;
    return 0;
}

void crisp_ctr_unlist(struct crisp_ctr_store *cs, struct crisp_ctr *c)
{
    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->n_ctrs; i++) {
        if (cs->ctrs[i] == c) {
            cs->ctrs[i] = cs->ctrs[--cs->n_ctrs];
            c->refs--;
            break;
        }
    }
    pthread_mutex_unlock(&cs->lock);
}

int crisp_ctr_get_running(struct crisp_ctr_store *cs, const char *id, const char *method,
                          struct crisp_ctr **out, struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(cs, id, &c, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->lock);
    crisp_ctr_refresh_locked(c);
    if (c->state == CRISP_CTR_RUNNING) {
        *out = c;
        return 0;
    }
    r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                     "%s: container %s is not running", method, c->id);
    crisp_ctr_unlock_put(cs, c);
    return r;
}

void crisp_ctr_unlock_put(struct crisp_ctr_store *cs, struct crisp_ctr *c)
{
    pthread_mutex_unlock(&c->lock);
    crisp_ctr_put(cs, c);
}
