#define _GNU_SOURCE
#include "image/manifest.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "image/digest.h"
#include "util/cleanup.h"
#include "util/mem.h"

#define MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST  "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_V2    "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1    "application/vnd.docker.distribution.manifest.v1"

static json_t *load_json(const char *body, size_t len, const char *what, struct crisp_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO, "%s is not a JSON object: %s",
                     what, doc ? "wrong type" : jerr.text);
        return NULL;
    }
    return doc;
}

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

int crisp_manifest_kind_of(const char *content_type, const char *body, size_t len,
                           enum crisp_manifest_kind *kind, struct crisp_err *err)
{
    _cleanup_json_ json_t *doc = load_json(body, len, "manifest", err);
    if (!doc)
        return -EPROTO;
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (!mt || !*mt)
        mt = content_type;
    if (json_integer_value(json_object_get(doc, "schemaVersion")) == 1 ||
        starts_with(mt, MT_DOCKER_V1))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTONOSUPPORT,
                            "image uses a Docker schema 1 manifest, which crisp does not support "
                            "(deprecated since 2017): push it again as schema 2 or OCI");
    if (starts_with(mt, MT_OCI_INDEX) || starts_with(mt, MT_DOCKER_LIST) ||
        (!mt && json_object_get(doc, "manifests"))) {
        *kind = CRISP_MANIFEST_INDEX;
        return 0;
    }
    if (starts_with(mt, MT_OCI_MANIFEST) || starts_with(mt, MT_DOCKER_V2) ||
        ((!mt || !*mt) && json_object_get(doc, "layers"))) {
        *kind = CRISP_MANIFEST_IMAGE;
        return 0;
    }
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTONOSUPPORT,
                        "unsupported manifest media type \"%s\", expected an OCI or Docker "
                        "schema 2 manifest or index",
                        mt ? mt : "");
}

void crisp_host_platform(const char **arch, const char **variant)
{
    struct utsname u;
    uname(&u);
    *variant = "";
    if (strcmp(u.machine, "x86_64") == 0)
        *arch = "amd64";
    else if (strcmp(u.machine, "aarch64") == 0)
        *arch = "arm64", *variant = "v8";
    else if (strncmp(u.machine, "armv7", 5) == 0)
        *arch = "arm", *variant = "v7";
    else if (strcmp(u.machine, "i686") == 0)
        *arch = "386";
    else
        *arch = "unknown";
}

static int parse_descriptor(const json_t *j, const char *what, struct crisp_descriptor *d,
                            struct crisp_err *err)
{
    memset(d, 0, sizeof(*d));
    const char *digest = json_string_value(json_object_get(j, "digest"));
    json_t *size = json_object_get(j, "size");
    if (!digest || !crisp_sha256_digest_valid(digest))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                            "%s: digest must be sha256:<64 hex>, got \"%s\"", what,
                            digest ? digest : "(none)");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                            "%s %s: size must be a non-negative integer", what, digest);
    const char *mt = json_string_value(json_object_get(j, "mediaType"));
    d->media_type = crisp_xstrdup(mt ? mt : "");
    d->digest = crisp_xstrdup(digest);
    d->size = json_integer_value(size);
    return 0;
}

/* Exact variant match beats a missing variant; anything else is no match. */
static int platform_score(const json_t *p, const char *arch, const char *variant)
{
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *a = json_string_value(json_object_get(p, "architecture"));
    const char *v = json_string_value(json_object_get(p, "variant"));
    if (!os || strcmp(os, "linux") != 0 || !a || strcmp(a, arch) != 0)
        return 0;
    if (v && *v && strcmp(v, variant) == 0)
        return 3;
    return (!v || !*v) ? 2 : (*variant ? 0 : 1);
}

int crisp_index_select(const char *body, size_t len, struct crisp_descriptor *out,
                       struct crisp_err *err)
{
    _cleanup_json_ json_t *doc = load_json(body, len, "image index", err);
    if (!doc)
        return -EPROTO;
    const char *arch, *variant;
    crisp_host_platform(&arch, &variant);
    const json_t *best = NULL, *m;
    int best_score = 0;
    size_t i;
    json_array_foreach(json_object_get(doc, "manifests"), i, m)
    {
        int score = platform_score(json_object_get(m, "platform"), arch, variant);
        if (score > best_score)
            best = m, best_score = score;
    }
    if (!best)
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT,
                            "the image index has no manifest for linux/%s%s%s", arch,
                            *variant ? "/" : "", variant);
    return parse_descriptor(best, "index entry", out, err);
}

int crisp_manifest_parse(const char *body, size_t len, struct crisp_manifest *out,
                         struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_json_ json_t *doc = load_json(body, len, "manifest", err);
    if (!doc)
        return -EPROTO;
    int r = parse_descriptor(json_object_get(doc, "config"), "manifest config", &out->config, err);
    const json_t *layers = json_object_get(doc, "layers");
    if (r == 0 && !json_is_array(layers))
        r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                         "manifest has no layers array");
    if (r < 0)
        return r;
    out->layers = crisp_xcalloc(json_array_size(layers), sizeof(*out->layers));
    size_t i;
    const json_t *l;
    json_array_foreach(layers, i, l)
    {
        r = parse_descriptor(l, "layer", &out->layers[out->n_layers], err);
        if (r < 0)
            return r;
        out->n_layers++;
        if (crisp_layer_media_type_supported(out->layers[i].media_type) < 0)
            return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTONOSUPPORT,
                                "layer %s has media type \"%s\", which crisp cannot unpack",
                                out->layers[i].digest, out->layers[i].media_type);
    }
    return 0;
}

int crisp_layer_media_type_supported(const char *mt)
{
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(mt, ok[i]) == 0)
            return 0;
    return -1;
}

int crisp_image_config_parse(const char *body, size_t len, struct crisp_image_config *out,
                             struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_json_ json_t *doc = load_json(body, len, "image config", err);
    if (!doc)
        return -EPROTO;
    const json_t *ids = json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
    if (!json_is_array(ids))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                            "image config has no rootfs.diff_ids");
    out->diff_ids = crisp_xcalloc(json_array_size(ids), sizeof(char *));
    size_t i;
    const json_t *id;
    json_array_foreach(ids, i, id)
    {
        const char *s = json_string_value(id);
        if (!s || !crisp_sha256_digest_valid(s))
            return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPROTO,
                                "image config diff_ids[%zu] is not a sha256 digest", i);
        out->diff_ids[out->n_diff_ids++] = crisp_xstrdup(s);
    }
    const char *user = json_string_value(json_object_get(json_object_get(doc, "config"), "User"));
    out->user = crisp_xstrdup(user ? user : "");
    return 0;
}

void crisp_descriptor_free(struct crisp_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    memset(d, 0, sizeof(*d));
}

void crisp_manifest_free(struct crisp_manifest *m)
{
    crisp_descriptor_free(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        crisp_descriptor_free(&m->layers[i]);
    free(m->layers);
    memset(m, 0, sizeof(*m));
}

void crisp_image_config_free(struct crisp_image_config *c)
{
    for (size_t i = 0; i < c->n_diff_ids; i++)
        free(c->diff_ids[i]);
    free(c->diff_ids);
    free(c->user);
    memset(c, 0, sizeof(*c));
}
