#define _GNU_SOURCE
#include "image/registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "image/registry_auth.h"
#include "metrics/metrics.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_ATTEMPTS        3
#define LOW_SPEED_BYTES     1024 /* below this many bytes/s for the timeout: no progress */
#define CONNECT_TIMEOUT_SEC 30L

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_setup_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&curl_key, curl_handle_free);
}

void crisp_registry_global_init(void)
{
    pthread_once(&curl_once, curl_setup_once);
}

/* One curl handle per thread, kept for connection reuse. */
static CURL *thread_curl(void)
{
    crisp_registry_global_init();
    CURL *h = pthread_getspecific(curl_key);
    if (!h) {
        h = curl_easy_init();
        if (!h)
            abort();
        pthread_setspecific(curl_key, h);
    }
    curl_easy_reset(h);
    return h;
}

/* Hosts found to serve plain HTTP, so later pulls skip the TLS attempt. */
static pthread_mutex_t plain_http_lock = PTHREAD_MUTEX_INITIALIZER;
static char *plain_http_hosts[64];
static size_t n_plain_http_hosts;

static bool known_plain_http(const char *base)
{
    pthread_mutex_lock(&plain_http_lock);
    bool found = false;
    for (size_t i = 0; i < n_plain_http_hosts && !found; i++)
        found = strcmp(plain_http_hosts[i], base) == 0;
    pthread_mutex_unlock(&plain_http_lock);
    return found;
}

static void remember_plain_http(const char *base)
{
    pthread_mutex_lock(&plain_http_lock);
    if (n_plain_http_hosts < sizeof(plain_http_hosts) / sizeof(plain_http_hosts[0]))
        plain_http_hosts[n_plain_http_hosts++] = crisp_xstrdup(base);
    pthread_mutex_unlock(&plain_http_lock);
}

static bool is_loopback_host(const char *host)
{
    return strncmp(host, "localhost", 9) == 0 || strncmp(host, "127.", 4) == 0 ||
           strncmp(host, "[::1]", 5) == 0;
}

static void add_endpoint(struct crisp_registry *reg, char *base, bool insecure, bool is_mirror,
                         bool https_then_http)
{
    reg->endpoints =
        crisp_xrealloc(reg->endpoints, (reg->n_endpoints + 1) * sizeof(*reg->endpoints));
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        base[--len] = '\0';
    reg->endpoints[reg->n_endpoints++] =
        (struct crisp_registry_endpoint){.base = base,
                                         .insecure = insecure,
                                         .is_mirror = is_mirror,
                                         .https_then_http = https_then_http};
}

/* Mirrors first, in order; then the registry itself unless upstream is off.
 * Loopback and insecure hosts are tried over https (unverified), then http. */
static void build_endpoints(struct crisp_registry *reg, const struct crisp_config *cfg)
{
    const struct crisp_registry_config *rc = crisp_config_registry(cfg, reg->host);
    /* A configured entry decides; otherwise loopback registries are insecure. */
    bool insecure = rc ? rc->insecure : is_loopback_host(reg->host);
    reg->ca_file = rc ? rc->ca_file : NULL;
    for (size_t i = 0; rc && i < rc->n_mirrors; i++)
        add_endpoint(reg, crisp_xstrdup(rc->mirrors[i]), rc->insecure, true, false);
    if (rc && !rc->upstream)
        return;
    const char *upstream = strcmp(reg->host, "docker.io") == 0 ? "registry-1.docker.io" : reg->host;
    bool plain = insecure && known_plain_http(upstream);
    add_endpoint(reg, crisp_xasprintf("%s://%s", plain ? "http" : "https", upstream), insecure,
                 false, insecure && !plain);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? crisp_xstrdup(s) : NULL;
}

int crisp_registry_init(struct crisp_registry *reg, const struct crisp_config *cfg,
                        const char *host, const char *repo,
                        const struct crisp_registry_creds *creds, struct crisp_err *err)
{
    (void)err;
    memset(reg, 0, sizeof(*reg));
    pthread_mutex_init(&reg->lock, NULL);
    reg->host = crisp_xstrdup(host);
    reg->repo = crisp_xstrdup(repo);
    reg->progress_timeout_seconds = cfg->pull_progress_timeout_seconds;
    if (creds) {
        reg->creds.username = dup_or_null(creds->username);
        reg->creds.password = dup_or_null(creds->password);
        reg->creds.identity_token = dup_or_null(creds->identity_token);
        reg->creds.registry_token = dup_or_null(creds->registry_token);
    }
    if (reg->creds.registry_token)
        reg->authorization = crisp_xasprintf("Bearer %s", reg->creds.registry_token);
    build_endpoints(reg, cfg);
    return 0;
}

void crisp_registry_free(struct crisp_registry *reg)
{
    for (size_t i = 0; i < reg->n_endpoints; i++)
        free(reg->endpoints[i].base);
    free(reg->endpoints);
    free(reg->host);
    free(reg->repo);
    free(reg->creds.username);
    free(reg->creds.password);
    free(reg->creds.identity_token);
    free(reg->creds.registry_token);
    free(reg->authorization);
    pthread_mutex_destroy(&reg->lock);
    memset(reg, 0, sizeof(*reg));
}

/* ---- one HTTP exchange ---- */

struct exchange {
    CURL *curl;
    const struct crisp_http_sink *sink;
    struct crisp_http_response *resp;
    char www_authenticate[1024];
    char error_body[256];
    size_t error_len;
    int sink_rc;
    struct crisp_err sink_err;
};

static void copy_header_value(char *dst, size_t size, const char *v, size_t len)
{
    while (len > 0 && isspace((unsigned char)*v))
        v++, len--;
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    *value = line + n + 1;
    *vlen = len - n - 1;
    return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct exchange *ex = userdata;
    size_t len = size * nitems, vlen;
    const char *v;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response (redirects) */
        ex->resp->content_type[0] = ex->resp->docker_digest[0] = ex->www_authenticate[0] = '\0';
    } else if (header_is(line, len, "content-type", &v, &vlen)) {
        copy_header_value(ex->resp->content_type, sizeof(ex->resp->content_type), v, vlen);
    } else if (header_is(line, len, "docker-content-digest", &v, &vlen)) {
        copy_header_value(ex->resp->docker_digest, sizeof(ex->resp->docker_digest), v, vlen);
    } else if (header_is(line, len, "www-authenticate", &v, &vlen)) {
        copy_header_value(ex->www_authenticate, sizeof(ex->www_authenticate), v, vlen);
    }
    return len;
}

/* Only a 2xx body goes to the sink; an error body is kept for the message. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct exchange *ex = userdata;
    size_t len = size * nmemb;
    crisp_metrics_add_pull_bytes(len);
    long status = 0;
    curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        ex->sink_rc = ex->sink->write(ex->sink->ctx, data, len, &ex->sink_err);
        return ex->sink_rc < 0 ? 0 : len;
    }
    size_t room = sizeof(ex->error_body) - 1 - ex->error_len;
    size_t n = len < room ? len : room;
    memcpy(ex->error_body + ex->error_len, data, n);
    ex->error_len += n;
    ex->error_body[ex->error_len] = '\0';
    return len;
}

static void set_transfer_options(CURL *h, const struct crisp_registry *reg,
                                 const struct crisp_registry_endpoint *ep)
{
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_SEC);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, reg->progress_timeout_seconds);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "crisp/" CRISP_VERSION);
    if (ep->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (reg->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, reg->ca_file);
}

static CURLcode perform(struct crisp_registry *reg, const struct crisp_registry_endpoint *ep,
                        const char *url, const char *accept, struct exchange *ex)
{
    CURL *h = thread_curl();
    ex->curl = h;
    set_transfer_options(h, reg, ep);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ex);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ex);
    struct curl_slist *headers = NULL;
    _cleanup_free_ char *accept_h = accept ? crisp_xasprintf("Accept: %s", accept) : NULL;
    pthread_mutex_lock(&reg->lock);
    _cleanup_free_ char *auth_h =
        reg->authorization ? crisp_xasprintf("Authorization: %s", reg->authorization) : NULL;
    pthread_mutex_unlock(&reg->lock);
    if (accept_h)
        headers = curl_slist_append(headers, accept_h);
    if (auth_h) /* curl keeps custom auth headers off redirects to other hosts */
        headers = curl_slist_append(headers, auth_h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ex->resp->status);
    curl_slist_free_all(headers);
    return rc;
}

/* ---- retries, endpoints, errors ---- */

static bool transient_curl_error(CURLcode rc)
{
    return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
}

static bool tls_failure(CURLcode rc)
{
    return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CERTPROBLEM ||
           rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_CACERT_BADFILE;
}

static void backoff(int attempt)
{
    struct timespec ts = {0, 200L * 1000 * 1000 * (1L << attempt)};
    nanosleep(&ts, NULL);
}

enum outcome { DONE, NEXT_ENDPOINT, FAILED };

/* Maps a finished exchange to an error; DONE with 0 for a 2xx. */
static enum outcome judge(struct crisp_registry *reg, const struct crisp_registry_endpoint *ep,
                          const char *what, CURLcode rc, struct exchange *ex, int *result,
                          struct crisp_err *err)
{
    long status = ex->resp->status;
    if (ex->sink_rc < 0) {
        *err = ex->sink_err;
        *result = ex->sink_rc;
        return FAILED;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        *result = crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                               "pulling %s from %s: no progress (less than %d bytes/s) for %lds "
                               "(pull_progress_timeout_seconds)",
                               what, ep->base, LOW_SPEED_BYTES, reg->progress_timeout_seconds);
        return FAILED;
    }
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
        *result = crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EPROTO,
                               "pulling %s: the TLS certificate of %s is not trusted (%s); give "
                               "its CA as registries.\"%s\".ca_file, or mark it insecure",
                               what, ep->base, curl_easy_strerror(rc), reg->host);
        return NEXT_ENDPOINT;
    }
    if (rc != CURLE_OK) {
        *result = crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, EHOSTUNREACH,
                               "pulling %s: registry %s unreachable: %s", what, ep->base,
                               curl_easy_strerror(rc));
        return NEXT_ENDPOINT;
    }
    if (status >= 200 && status < 300)
        return *result = 0, DONE;
    grpc_status_code code = status == 404   ? GRPC_STATUS_NOT_FOUND
                            : status == 401 ? GRPC_STATUS_UNAUTHENTICATED
                            : status == 403 ? GRPC_STATUS_PERMISSION_DENIED
                                            : GRPC_STATUS_UNAVAILABLE;
    const char *hint = status == 404   ? "not found"
                       : status == 401 ? "authentication failed (check the pull credentials)"
                       : status == 403 ? "access denied"
                                       : "the registry answered with an error";
    *result = crisp_errorf(err, code, EIO, "pulling %s from %s: %s (HTTP %ld%s%.200s)", what,
                           ep->base, hint, status, ex->error_len ? ": " : "", ex->error_body);
    return ep->is_mirror ? NEXT_ENDPOINT : FAILED;
}

/* Tries one endpoint with retries; answers 401 challenges once. */
static enum outcome try_endpoint(struct crisp_registry *reg, struct crisp_registry_endpoint *ep,
                                 const char *path, const char *what, const char *accept,
                                 const struct crisp_http_sink *sink,
                                 struct crisp_http_response *resp, int *result,
                                 struct crisp_err *err)
{
    bool answered_challenge = false;
    for (int attempt = 0; attempt < MAX_ATTEMPTS;) {
        struct exchange ex = {.sink = sink, .resp = resp};
        memset(resp, 0, sizeof(*resp));
        if (sink->reset && (*result = sink->reset(sink->ctx, err)) < 0)
            return FAILED;
        _cleanup_free_ char *url = crisp_xasprintf("%s%s", ep->base, path);
        CURLcode rc = perform(reg, ep, url, accept, &ex);
        if (ep->https_then_http && rc != CURLE_OK && tls_failure(rc)) {
            log_info("registry", "%s does not speak TLS; using plain http", ep->base);
            remember_plain_http(ep->base + strlen("https://"));
            char *plain = crisp_xasprintf("http://%s", ep->base + strlen("https://"));
            free(ep->base);
            ep->base = plain;
            ep->https_then_http = false;
            continue;
        }
        ep->https_then_http = false;
        if (rc == CURLE_OK && resp->status == 401 && !answered_challenge &&
            ex.www_authenticate[0]) {
            answered_challenge = true;
            if ((*result = crisp_registry_answer_challenge(reg, ep, ex.www_authenticate, err)) < 0)
                return FAILED;
            continue;
        }
        bool retry = transient_curl_error(rc) ||
                     (rc == CURLE_OK && (resp->status >= 500 || resp->status == 429));
        if (retry && ++attempt < MAX_ATTEMPTS) {
            log_warn("registry", "%s from %s: %s; retrying", what, ep->base,
                     rc != CURLE_OK ? curl_easy_strerror(rc) : "server error");
            backoff(attempt);
            continue;
        }
        return judge(reg, ep, what, rc, &ex, result, err);
    }
    return FAILED;
}

int crisp_registry_get(struct crisp_registry *reg, const char *kind, const char *reference,
                       const char *accept, const struct crisp_http_sink *sink,
                       struct crisp_http_response *resp, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("/v2/%s/%s/%s", reg->repo, kind, reference);
    _cleanup_free_ char *what = crisp_xasprintf("%s/%s %s", reg->host, reg->repo, reference);
    if (reg->n_endpoints == 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                            "pulling %s: no endpoint configured for %s", what, reg->host);
    pthread_mutex_lock(&reg->lock);
    size_t start = reg->active;
    pthread_mutex_unlock(&reg->lock);
    int result = -EIO;
    for (size_t i = start; i < reg->n_endpoints; i++) {
        enum outcome o =
            try_endpoint(reg, &reg->endpoints[i], path, what, accept, sink, resp, &result, err);
        if (o == DONE) {
            pthread_mutex_lock(&reg->lock);
            reg->active = i;
            pthread_mutex_unlock(&reg->lock);
            return 0;
        }
        if (o == FAILED)
            return result;
        if (i + 1 < reg->n_endpoints)
            log_warn("registry", "%s; trying the next endpoint", err->msg);
    }
    return result;
}

/* ---- in-memory sink ---- */

static int mem_write(void *ctx, const void *data, size_t len, struct crisp_err *err)
{
    return crisp_mem_sink_append(ctx, data, len, err);
}

int crisp_mem_sink_append(struct crisp_mem_sink *m, const void *data, size_t len,
                          struct crisp_err *err)
{
    if (m->len + len > m->max)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EFBIG,
                            "registry response larger than %zu bytes", m->max);
    m->data = crisp_xrealloc(m->data, m->len + len + 1);
    memcpy(m->data + m->len, data, len);
    m->len += len;
    m->data[m->len] = '\0';
    return 0;
}

static int mem_reset(void *ctx, struct crisp_err *err)
{
    (void)err;
    struct crisp_mem_sink *m = ctx;
    m->len = 0;
    return 0;
}

struct crisp_http_sink crisp_mem_sink(struct crisp_mem_sink *mem)
{
    return (struct crisp_http_sink){.write = mem_write, .reset = mem_reset, .ctx = mem};
}

void crisp_mem_sink_free(struct crisp_mem_sink *mem)
{
    free(mem->data);
    mem->data = NULL;
    mem->len = 0;
}
