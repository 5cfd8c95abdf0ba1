#include "image/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct crisp_sha256 {
    EVP_MD_CTX *ctx;
};

struct crisp_sha256 *crisp_sha256_new(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        log_error("digest", "cannot initialise sha256");
        abort();
    }
    struct crisp_sha256 *h = malloc(sizeof(*h));
    if (!h)
        abort();
    h->ctx = ctx;
    return h;
}

void crisp_sha256_update(struct crisp_sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void crisp_sha256_finish(struct crisp_sha256 *h, char out[CRISP_DIGEST_LEN + 1])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    crisp_sha256_free(h);
}

void crisp_sha256_free(struct crisp_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void crisp_sha256_of(const void *data, size_t len, char out[CRISP_DIGEST_LEN + 1])
{
    struct crisp_sha256 *h = crisp_sha256_new();
    crisp_sha256_update(h, data, len);
    crisp_sha256_finish(h, out);
}

bool crisp_sha256_digest_valid(const char *digest)
{
    if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != CRISP_DIGEST_LEN)
        return false;
    for (const char *p = digest + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}
