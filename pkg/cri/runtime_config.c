#define _GNU_SOURCE
#include "cri/runtime_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cri/handlers.h"
#include "cri/msg.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define RUNTIME_CONFIG_FILE "runtime-config.json"

/* One "address/prefix" with the prefix in range for the address family. */
static int validate_one_cidr(const char *cidr, size_t len, int *family, struct crisp_err *err)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof(buf))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod_cidr: \"%.*s\" is not a CIDR, expected e.g. 10.88.0.0/16",
                            (int)len, cidr);
    memcpy(buf, cidr, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (!slash)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod_cidr: \"%s\" has no /prefix, expected e.g. 10.88.0.0/16", buf);
    *slash = '\0';
    unsigned char addr[16];
    int max_prefix = inet_pton(AF_INET, buf, addr) == 1    ? 32
                     : inet_pton(AF_INET6, buf, addr) == 1 ? 128
                                                           : -1;
    if (max_prefix < 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod_cidr: \"%s\" is not an IPv4 or IPv6 address", buf);
    if (family)
        *family = max_prefix == 32 ? AF_INET : AF_INET6;
    char *end = NULL;
    long prefix = strtol(slash + 1, &end, 10);
    bool digits_only = slash[1] >= '0' && slash[1] <= '9' && !*end;
    if (!digits_only || prefix > max_prefix)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod_cidr: prefix \"/%s\" is out of range, expected 0 to %d", slash + 1,
                            max_prefix);
    return 0;
}

int crisp_pod_cidr_validate(const char *cidr, struct crisp_err *err)
{
    if (!*cidr)
        return 0;
    int parts = 0;
    int families[2] = {0, 0};
    for (const char *p = cidr;; parts++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int r = validate_one_cidr(p, len, parts < 2 ? &families[parts] : NULL, err);
        if (r < 0)
            return r;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (parts > 1)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod_cidr: \"%s\" has %d CIDRs, expected one, or two for dual stack",
                            cidr, parts + 1);
    if (parts == 1 && families[0] == families[1])
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "pod_cidr: \"%s\" has two CIDRs of one family, expected one IPv4 "
                            "and one IPv6 (dual stack)",
                            cidr);
    return 0;
}

static char *runtime_config_path(const struct crisp_runtime *rt)
{
    return crisp_xasprintf("%s/%s", rt->cfg->state, RUNTIME_CONFIG_FILE);
}

/* Caller holds rt->lock. */
static json_t *runtime_config_json_locked(const struct crisp_runtime *rt)
{
    return json_pack("{s:s}", "pod_cidr", rt->pod_cidr ? rt->pod_cidr : "");
}

json_t *crisp_runtime_config_to_json(struct crisp_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    json_t *out = runtime_config_json_locked(rt);
    pthread_mutex_unlock(&rt->lock);
    return out;
}

int crisp_runtime_config_load(struct crisp_runtime *rt, struct crisp_err *err)
{
    _cleanup_free_ char *path = runtime_config_path(rt);
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (access(path, F_OK) < 0 && errno == ENOENT)
            return 0;
        log_warn("cri", "ignoring unreadable %s: %s", path, jerr.text);
        return 0;
    }
    const char *cidr = json_string_value(json_object_get(root, "pod_cidr"));
    if (!cidr || crisp_pod_cidr_validate(cidr, err) < 0) {
        log_warn("cri", "ignoring %s: pod_cidr is missing or invalid", path);
        crisp_err_clear(err);
        return 0;
    }
    free(rt->pod_cidr);
    rt->pod_cidr = crisp_xstrdup(cidr);
    return 0;
}

CRI_UNARY(cri_update_runtime_config)
{
    const Runtime__V1__UpdateRuntimeConfigRequest *in =
        crisp_req(Runtime__V1__UpdateRuntimeConfigRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    const char *cidr = "";
    if (in->runtime_config && in->runtime_config->network_config)
        cidr = in->runtime_config->network_config->pod_cidr;
    int r = crisp_pod_cidr_validate(cidr, err);
    if (r < 0)
        return r;

    pthread_mutex_lock(&rt->lock);
    char *old = rt->pod_cidr;
    rt->pod_cidr = crisp_xstrdup(cidr);
    _cleanup_json_ json_t *doc = runtime_config_json_locked(rt);
    _cleanup_free_ char *text = json_dumps(doc, JSON_SORT_KEYS);
    _cleanup_free_ char *path = runtime_config_path(rt);
    r = crisp_write_file_atomic(path, text, strlen(text), 0600, err);
    if (r < 0) { /* keep memory and disk in agreement */
        free(rt->pod_cidr);
        rt->pod_cidr = old;
    } else {
        free(old);
    }
    pthread_mutex_unlock(&rt->lock);
    if (r < 0)
        return r;
    log_info("cri", "pod CIDR set to \"%s\"", cidr);
    *resp = (ProtobufCMessage *)crisp_msg_new(crisp_call_arena(call),
                                              Runtime__V1__UpdateRuntimeConfigResponse,
                                              RUNTIME__V1__UPDATE_RUNTIME_CONFIG_RESPONSE__INIT);
    return 0;
}
