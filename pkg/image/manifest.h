/* OCI / Docker schema 2 manifests, indexes and image configs (jansson).
 * Schema 1 is refused with a clear message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CRISP_MANIFEST_ACCEPT                                                                      \
    "application/vnd.oci.image.index.v1+json, "                                                    \
    "application/vnd.docker.distribution.manifest.list.v2+json, "                                  \
    "application/vnd.oci.image.manifest.v1+json, "                                                 \
    "application/vnd.docker.distribution.manifest.v2+json"

#define CRISP_MANIFEST_MAX (4u << 20)
#define CRISP_CONFIG_MAX   (8u << 20)

enum crisp_manifest_kind { CRISP_MANIFEST_IMAGE, CRISP_MANIFEST_INDEX };

struct crisp_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
};

struct crisp_manifest {
    struct crisp_descriptor config;
    struct crisp_descriptor *layers;
    size_t n_layers;
};

struct crisp_image_config {
    char **diff_ids;
    size_t n_diff_ids;
    char *user; /* config.User, "" when unset */
};

/* Image manifest or index, from the Content-Type or the body's mediaType. */
int crisp_manifest_kind_of(const char *content_type, const char *body, size_t len,
                           enum crisp_manifest_kind *kind, struct crisp_err *err);
/* Picks the entry of an index for this host (linux, its architecture and variant). */
int crisp_index_select(const char *body, size_t len, struct crisp_descriptor *out,
                       struct crisp_err *err);
int crisp_manifest_parse(const char *body, size_t len, struct crisp_manifest *out,
                         struct crisp_err *err);
int crisp_image_config_parse(const char *body, size_t len, struct crisp_image_config *out,
                             struct crisp_err *err);

/* The compression a layer media type names: "gzip", "zstd", "" (plain); -1 when
 * crisp cannot unpack it (encrypted, unknown). */
int crisp_layer_media_type_supported(const char *media_type);

void crisp_descriptor_free(struct crisp_descriptor *d);
void crisp_manifest_free(struct crisp_manifest *m);
void crisp_image_config_free(struct crisp_image_config *c);

/* The host platform in OCI terms: "amd64", "arm64", "arm" + "v7", ... */
void crisp_host_platform(const char **arch, const char **variant);
