/* Image references as the kubelet, containerd and docker read them: the
 * grammar of github.com/distribution/reference (v0.6.0) and docker's
 * normalisation (ParseNormalizedNamed + TagNameOnly):
 *
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path
 *   domain    := (host-name | IPv4 | "[" IPv6 "]") [":" port]
 *   path      := component ("/" component)*, component := [a-z0-9]+ (sep [a-z0-9]+)*,
 *                sep := "." | "_" | "__" | "-"+; at most 255 characters
 *   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest    := "sha256:" 64 hex | "sha384:" 96 hex | "sha512:" 128 hex (lowercase)
 *
 * The first "/"-separated component is the domain when it contains "." or
 * ":", is "localhost", or has an uppercase letter; otherwise the domain is
 * docker.io. "index.docker.io" is an alias of docker.io; a docker.io path of
 * one component gets "library/" in front. */
#pragma once

#include <stdbool.h>

#include "util/err.h"

struct crisp_image_ref {
    char *domain; /* "docker.io", "localhost:5000", "[fd00::1]:5000", "registry.k8s.io" */
    char *path;   /* "library/busybox", "pause" */
    char *tag;    /* "latest"; NULL when the reference has only a digest */
    char *digest; /* "sha256:<64 lowercase hex>"; NULL when none */
};

/* Parses and normalises s into *out (all fields malloc'd; free with
 * crisp_image_ref_free):
 *   "busybox"                -> docker.io/library/busybox:latest
 *   "user/x"                 -> docker.io/user/x:latest
 *   "index.docker.io/x"      -> docker.io/library/x:latest (registry-1.docker.io is no alias)
 *   "localhost/x"            -> domain "localhost", path "x"
 *   "name@sha256:..."        -> no tag; "name:tag@sha256:..." keeps both
 *     (containerd's ParseDockerRef would drop the tag: a caller that wants
 *     that ignores ref->tag when ref->digest is set)
 * "latest" is added only when there is neither a tag nor a digest.
 * Digests: sha256 (64 hex), sha384 (96) and sha512 (128), lowercase hex, are
 * accepted as go-digest accepts them; anything else is refused. Only sha256
 * passes crisp_digest_valid.
 * Quirk kept from upstream: a first component with "." that is not a valid
 * host name but is a valid path component ("my_reg.io/x") is accepted and
 * normalised to the same string as upstream ("my_reg.io/x:latest"); it is
 * reported here as the domain.
 * A 64-hex string alone is refused (it is an image id, see
 * crisp_image_id_parse). On error *out is left all NULL and err is
 * INVALID_ARGUMENT, e.g.
 *   invalid image reference "Busybox": repository name must be lowercase */
int crisp_image_ref_parse(const char *s, struct crisp_image_ref *out, struct crisp_err *err);

/* Frees the fields and leaves them NULL; ref may be NULL. */
void crisp_image_ref_free(struct crisp_image_ref *ref);

/* "docker.io/library/busybox" (malloc'd). */
char *crisp_image_ref_name(const struct crisp_image_ref *ref);

/* The full normalised form name[:tag][@digest] (malloc'd). */
char *crisp_image_ref_string(const struct crisp_image_ref *ref);

/* "name:tag" (malloc'd), NULL when the reference has no tag. */
char *crisp_image_ref_repo_tag(const struct crisp_image_ref *ref);

/* "name@digest" (malloc'd); digest NULL means ref->digest; NULL when both
 * are NULL. */
char *crisp_image_ref_repo_digest(const struct crisp_image_ref *ref, const char *digest);

/* True for "sha256:<64 lowercase hex>". */
bool crisp_digest_valid(const char *digest);

/* An image id as users type it: "sha256:<64 lowercase hex>" or the bare 64
 * lowercase hex (a shorter unique prefix is the caller's business). Returns
 * true and writes the canonical "sha256:<hex>" (71 characters + NUL) into
 * out; returns false and sets out to "" otherwise. */
bool crisp_image_id_parse(const char *s, char out[72]);
