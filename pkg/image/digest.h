/* Streaming sha256 in the OCI digest form "sha256:<64 lowercase hex>". */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CRISP_DIGEST_LEN 71 /* "sha256:" + 64 hex */

struct crisp_sha256;

struct crisp_sha256 *crisp_sha256_new(void);
void crisp_sha256_update(struct crisp_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<hex>" (CRISP_DIGEST_LEN + 1 bytes) and frees h. */
void crisp_sha256_finish(struct crisp_sha256 *h, char out[CRISP_DIGEST_LEN + 1]);
void crisp_sha256_free(struct crisp_sha256 *h);

/* One-shot digest of a buffer. */
void crisp_sha256_of(const void *data, size_t len, char out[CRISP_DIGEST_LEN + 1]);

/* "sha256:<64 lowercase hex>" exactly. */
bool crisp_sha256_digest_valid(const char *digest);
