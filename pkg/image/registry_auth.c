#define _GNU_SOURCE
#include "image/registry_auth.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image/registry.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define TOKEN_RESPONSE_MAX (1 << 20)

char *crisp_challenge_param(const char *header, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = header; (p = strcasestr(p, key)); p += klen) {
        bool starts_word = p == header || p[-1] == ' ' || p[-1] == ',';
        if (!starts_word || p[klen] != '=')
            continue;
        const char *v = p + klen + 1;
        if (*v == '"') {
            const char *end = strchr(v + 1, '"');
            return end ? strndup(v + 1, (size_t)(end - v - 1)) : NULL;
        }
        return strndup(v, strcspn(v, ","));
    }
    return NULL;
}

static char *base64(const char *s)
{
    size_t len = strlen(s);
    char *out = crisp_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    return out;
}

static void set_authorization(struct crisp_registry *reg, char *value)
{
    pthread_mutex_lock(&reg->lock);
    free(reg->authorization);
    reg->authorization = value;
    pthread_mutex_unlock(&reg->lock);
}

static int answer_basic(struct crisp_registry *reg, struct crisp_err *err)
{
    if (!reg->creds.username)
        return crisp_errorf(err, GRPC_STATUS_UNAUTHENTICATED, EACCES,
                            "registry %s requires credentials (basic auth) and the pull gave none",
                            reg->host);
    _cleanup_free_ char *pair = crisp_xasprintf("%s:%s", reg->creds.username,
                                                reg->creds.password ? reg->creds.password : "");
    _cleanup_free_ char *encoded = base64(pair);
    set_authorization(reg, crisp_xasprintf("Basic %s", encoded));
    return 0;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    size_t len = size * nmemb;
    return crisp_mem_sink_append(userdata, data, len, NULL) < 0 ? 0 : len;
}

/* The realm URL with service and scope as query parameters. */
static char *token_url(CURL *h, const char *realm, const char *service, const char *scope)
{
    char *svc = service ? curl_easy_escape(h, service, 0) : NULL;
    char *scp = curl_easy_escape(h, scope, 0);
    char *url = crisp_xasprintf("%s%sscope=%s%s%s", realm, strchr(realm, '?') ? "&" : "?", scp,
                                svc ? "&service=" : "", svc ? svc : "");
    curl_free(svc);
    curl_free(scp);
    return url;
}

static char *refresh_form(CURL *h, const char *service, const char *scope, const char *token)
{
    char *svc = curl_easy_escape(h, service ? service : "", 0);
    char *scp = curl_easy_escape(h, scope, 0);
    char *tok = curl_easy_escape(h, token, 0);
    char *form = crisp_xasprintf(
        "grant_type=refresh_token&client_id=crisp&service=%s&scope=%s&refresh_token=%s", svc, scp,
        tok);
    curl_free(svc);
    curl_free(scp);
    curl_free(tok);
    return form;
}

static int parse_token(const char *realm, const char *body, char **token, struct crisp_err *err)
{
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_loads(body ? body : "", 0, &jerr);
    const char *t = json_string_value(json_object_get(doc, "token"));
    if (!t || !*t)
        t = json_string_value(json_object_get(doc, "access_token"));
    if (!t || !*t)
        return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EPROTO,
                            "token server %s answered without a token", realm);
    *token = crisp_xstrdup(t);
    return 0;
}

static int fetch_token(struct crisp_registry *reg, const struct crisp_registry_endpoint *ep,
                       const char *realm, const char *service, const char *scope, char **token,
                       struct crisp_err *err)
{
    CURL *h = curl_easy_init();
    if (!h)
        abort();
    struct crisp_mem_sink body = {.max = TOKEN_RESPONSE_MAX};
    _cleanup_free_ char *url = token_url(h, realm, service, scope);
    _cleanup_free_ char *form = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (ep->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (reg->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, reg->ca_file);
    if (reg->creds.identity_token) {
        form = refresh_form(h, service, scope, reg->creds.identity_token);
        curl_easy_setopt(h, CURLOPT_URL, realm);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    } else if (reg->creds.username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, reg->creds.username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, reg->creds.password ? reg->creds.password : "");
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    int r;
    if (rc != CURLE_OK)
        r = crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EHOSTUNREACH,
                         "token server %s for %s unreachable: %s", realm, reg->host,
                         curl_easy_strerror(rc));
    else if (status == 401 || status == 403)
        r = crisp_errorf(err, GRPC_STATUS_UNAUTHENTICATED, EACCES,
                         "token server %s for %s refused %s (HTTP %ld)", realm, reg->host,
                         reg->creds.username || reg->creds.identity_token ? "the credentials"
                                                                          : "an anonymous pull",
                         status);
    else if (status != 200)
        r = crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EIO,
                         "token server %s for %s answered HTTP %ld", realm, reg->host, status);
    else
        r = parse_token(realm, body.data, token, err);
    crisp_mem_sink_free(&body);
    return r;
}

int crisp_registry_answer_challenge(struct crisp_registry *reg,
                                    const struct crisp_registry_endpoint *ep,
                                    const char *www_authenticate, struct crisp_err *err)
{
    if (strncasecmp(www_authenticate, "Basic", 5) == 0)
        return answer_basic(reg, err);
    if (strncasecmp(www_authenticate, "Bearer", 6) != 0)
        return crisp_errorf(err, GRPC_STATUS_UNAUTHENTICATED, EPROTO,
                            "registry %s asks for an unsupported authentication: %.100s", reg->host,
                            www_authenticate);
    _cleanup_free_ char *realm = crisp_challenge_param(www_authenticate, "realm");
    _cleanup_free_ char *service = crisp_challenge_param(www_authenticate, "service");
    _cleanup_free_ char *scope = crisp_challenge_param(www_authenticate, "scope");
    if (!realm || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0))
        return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EPROTO,
                            "registry %s sent a Bearer challenge without an http(s) realm",
                            reg->host);
    if (!scope)
        scope = crisp_xasprintf("repository:%s:pull", reg->repo);
    char *token = NULL;
    int r = fetch_token(reg, ep, realm, service, scope, &token, err);
    if (r < 0)
        return r;
    set_authorization(reg, crisp_xasprintf("Bearer %s", token));
    free(token);
    return 0;
}
