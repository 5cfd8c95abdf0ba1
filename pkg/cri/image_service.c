/* ImageService: ListImages, StreamImages, ImageStatus, PullImage, RemoveImage, ImageFsInfo. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/runtime.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/mem.h"

#define STREAM_IMAGES_CHUNK 100

/* Image.uid / Image.username from config.User, as containerd reports them. */
static void set_image_user(struct crisp_arena *a, Runtime__V1__Image *out, const char *user)
{
    if (!user || !*user)
        return;
    size_t len = strcspn(user, ":");
    char *name = crisp_arena_alloc(a, len + 1);
    memcpy(name, user, len);
    char *end = NULL;
    long long uid = strtoll(name, &end, 10);
    if (len > 0 && *end == '\0' && name[0] >= '0' && name[0] <= '9') {
        out->uid = crisp_msg_new(a, Runtime__V1__Int64Value, RUNTIME__V1__INT64_VALUE__INIT);
        out->uid->value = uid;
    } else {
        out->username = name;
    }
}

static Runtime__V1__Image *image_message(struct crisp_arena *a, const struct crisp_image *img)
{
    Runtime__V1__Image *out = crisp_msg_new(a, Runtime__V1__Image, RUNTIME__V1__IMAGE__INIT);
    out->id = crisp_arena_strdup(a, img->id);
    out->n_repo_tags = img->n_repo_tags;
    out->repo_tags = crisp_msg_copy_strings(a, img->repo_tags, img->n_repo_tags);
    out->n_repo_digests = img->n_repo_digests;
    out->repo_digests = crisp_msg_copy_strings(a, img->repo_digests, img->n_repo_digests);
    out->size = img->size;
    out->spec = crisp_msg_new(a, Runtime__V1__ImageSpec, RUNTIME__V1__IMAGE_SPEC__INIT);
    out->spec->image = out->id;
    set_image_user(a, out, img->user);
    return out;
}

static const char *spec_image(const Runtime__V1__ImageSpec *spec)
{
    return spec && spec->image ? spec->image : "";
}

static int require_image(const char *method, const char *image, struct crisp_err *err)
{
    if (*image)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: image.image is required: an image reference or id", method);
}

/* Matching images: one for a filter, all without. NOT_FOUND is an empty list. */
static int select_images(struct crisp_runtime *rt, const char *filter, struct crisp_image **imgs,
                         size_t *n, struct crisp_err *err)
{
    if (!*filter) {
        crisp_image_store_list(&rt->images, imgs, n);
        return 0;
    }
    *imgs = crisp_xcalloc(1, sizeof(**imgs));
    *n = 0;
    int r = crisp_image_store_find(&rt->images, filter, *imgs, err);
    if (r == 0)
        *n = 1;
    if (r == -ENOENT || r == 0)
        return 0;
    free(*imgs);
    *imgs = NULL;
    return r;
}

CRI_UNARY(cri_list_images)
{
    const Runtime__V1__ListImagesRequest *in = crisp_req(Runtime__V1__ListImagesRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    struct crisp_image *imgs;
    size_t n;
    int r = select_images(rt, in->filter ? spec_image(in->filter->image) : "", &imgs, &n, err);
    if (r < 0)
        return r;
    Runtime__V1__ListImagesResponse *out =
        crisp_msg_new(a, Runtime__V1__ListImagesResponse, RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT);
    out->images = crisp_arena_array(a, Runtime__V1__Image *, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        out->images[out->n_images++] = image_message(a, &imgs[i]);
    crisp_images_free(imgs, n);
    *resp = &out->base;
    return 0;
}

int cri_stream_images(struct crisp_call *call, const ProtobufCMessage *req, struct crisp_err *err)
{
    const Runtime__V1__StreamImagesRequest *in = crisp_req(Runtime__V1__StreamImagesRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    struct crisp_image *imgs;
    size_t n;
    int r = select_images(rt, in->filter ? spec_image(in->filter->image) : "", &imgs, &n, err);
    for (size_t start = 0; r == 0 && start < n; start += STREAM_IMAGES_CHUNK) {
        Runtime__V1__StreamImagesResponse chunk = RUNTIME__V1__STREAM_IMAGES_RESPONSE__INIT;
        size_t count = n - start < STREAM_IMAGES_CHUNK ? n - start : STREAM_IMAGES_CHUNK;
        chunk.images = crisp_arena_array(a, Runtime__V1__Image *, count);
        for (size_t i = 0; i < count; i++)
            chunk.images[chunk.n_images++] = image_message(a, &imgs[start + i]);
        r = crisp_call_send(call, &chunk.base, err);
    }
    if (imgs)
        crisp_images_free(imgs, n);
    return r;
}

/* Verbose ImageStatus info: the store's record and the image config. */
static char *status_info(struct crisp_runtime *rt, const struct crisp_image *img)
{
    _cleanup_free_ char *config = NULL;
    size_t len = 0;
    struct crisp_err ignored;
    json_t *cfg = NULL;
    if (crisp_blob_read(&rt->images.blobs, img->id, CRISP_CONFIG_MAX, &config, &len, &ignored) == 0)
        cfg = json_loadb(config, len, 0, NULL);
    json_t *chain = json_array();
    for (size_t i = 0; i < img->n_layers; i++)
        json_array_append_new(chain, json_string(img->chain_ids[i]));
    _cleanup_json_ json_t *info = json_pack(
        "{s:s, s:s, s:o, s:o*, s:I}", "id", img->id, "manifestDigest", img->manifest_digest,
        "chainIDs", chain, "imageSpec", cfg, "pulledAt", (json_int_t)img->pulled_at);
    return json_dumps(info, JSON_COMPACT);
}

CRI_UNARY(cri_image_status)
{
    const Runtime__V1__ImageStatusRequest *in = crisp_req(Runtime__V1__ImageStatusRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    const char *image = spec_image(in->image);
    int r = require_image("ImageStatus", image, err);
    struct crisp_image img;
    if (r == 0)
        r = crisp_image_store_find(&rt->images, image, &img, err);
    if (r < 0 && r != -ENOENT)
        return r;
    Runtime__V1__ImageStatusResponse *out = crisp_msg_new(a, Runtime__V1__ImageStatusResponse,
                                                          RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT);
    if (r == 0) { /* not found: an empty response, as the CRI says */
        out->image = image_message(a, &img);
        if (in->verbose) {
            _cleanup_free_ char *info = status_info(rt, &img);
            Runtime__V1__ImageStatusResponse__InfoEntry *e =
                crisp_msg_new(a, Runtime__V1__ImageStatusResponse__InfoEntry,
                              RUNTIME__V1__IMAGE_STATUS_RESPONSE__INFO_ENTRY__INIT);
            e->key = "info";
            e->value = crisp_arena_strdup(a, info ? info : "{}");
            out->n_info = 1;
            out->info = crisp_arena_array(a, Runtime__V1__ImageStatusResponse__InfoEntry *, 1);
            out->info[0] = e;
        }
        crisp_image_free(&img);
    }
    crisp_err_clear(err);
    *resp = &out->base;
    return 0;
}

/* AuthConfig.auth is base64("user:password"). */
static int decode_auth(const char *auth, char **user, char **password, struct crisp_err *err)
{
    size_t len = strlen(auth);
    _cleanup_free_ unsigned char *raw = crisp_xmalloc(len + 1);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)auth, (int)len);
    while (n > 0 && raw[n - 1] == '\0')
        n--; /* padding */
    char *colon = n > 0 ? memchr(raw, ':', (size_t)n) : NULL;
    if (n < 0 || !colon)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "PullImage: auth.auth must be base64 of \"user:password\"");
    *user = strndup((char *)raw, (size_t)(colon - (char *)raw));
    *password = strndup(colon + 1, (size_t)(n - (colon + 1 - (char *)raw)));
    return 0;
}

CRI_UNARY(cri_pull_image)
{
    const Runtime__V1__PullImageRequest *in = crisp_req(Runtime__V1__PullImageRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    const char *image = spec_image(in->image);
    int r = require_image("PullImage", image, err);
    if (r < 0)
        return r;
    struct crisp_registry_creds creds = {0};
    _cleanup_free_ char *user = NULL, *password = NULL;
    if (in->auth) {
        creds.username = in->auth->username;
        creds.password = in->auth->password;
        creds.identity_token = in->auth->identity_token;
        creds.registry_token = in->auth->registry_token;
        if (in->auth->auth && *in->auth->auth && !(creds.username && *creds.username)) {
            r = decode_auth(in->auth->auth, &user, &password, err);
            if (r < 0)
                return r;
            creds.username = user;
            creds.password = password;
        }
    }
    _cleanup_free_ char *id = NULL;
    int64_t started = crisp_now_ns();
    r = crisp_image_pull(&rt->images, rt->cfg, image, &creds, &id, err);
    crisp_metrics_observe_pull(crisp_now_ns() - started, r == 0);
    if (r < 0)
        return r;
    Runtime__V1__PullImageResponse *out =
        crisp_msg_new(crisp_call_arena(call), Runtime__V1__PullImageResponse,
                      RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT);
    out->image_ref = crisp_arena_strdup(crisp_call_arena(call), id);
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_remove_image)
{
    const Runtime__V1__RemoveImageRequest *in = crisp_req(Runtime__V1__RemoveImageRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    const char *image = spec_image(in->image);
    int r = require_image("RemoveImage", image, err);
    if (r == 0)
        r = crisp_image_store_remove(&rt->images, image, err);
    if (r < 0)
        return r;
    *resp =
        (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call), Runtime__V1__RemoveImageResponse,
                                          RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT);
    return 0;
}

CRI_UNARY(cri_image_fs_info)
{
    (void)req;
    (void)err;
    struct crisp_runtime *rt = crisp_call_app(call);
    struct crisp_arena *a = crisp_call_arena(call);
    uint64_t bytes, inodes;
    crisp_image_store_usage(&rt->images, &bytes, &inodes);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    Runtime__V1__FilesystemUsage *u =
        crisp_msg_new(a, Runtime__V1__FilesystemUsage, RUNTIME__V1__FILESYSTEM_USAGE__INIT);
    u->timestamp = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
    u->fs_id = crisp_msg_new(a, Runtime__V1__FilesystemIdentifier,
                             RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT);
    u->fs_id->mountpoint = (char *)rt->cfg->root;
    u->used_bytes = crisp_msg_new(a, Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
    u->used_bytes->value = bytes;
    u->inodes_used = crisp_msg_new(a, Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
    u->inodes_used->value = inodes;
    Runtime__V1__ImageFsInfoResponse *out = crisp_msg_new(
        a, Runtime__V1__ImageFsInfoResponse, RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT);
    out->n_image_filesystems = 1;
    out->image_filesystems = crisp_arena_array(a, Runtime__V1__FilesystemUsage *, 1);
    out->image_filesystems[0] = u;
    *resp = &out->base;
    return 0;
}
