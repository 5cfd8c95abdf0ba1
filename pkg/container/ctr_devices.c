#define _GNU_SOURCE
#include "container/ctr_devices.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/device_nodes.h"
#include "util/mem.h"

#define MAX_DEVICES 256

static const struct crisp_device_rule default_rules[] = {
    {'c', -1, -1, "m"}, {'b', -1, -1, "m"}, {'c', 1, 3, "rwm"},    {'c', 1, 5, "rwm"},
    {'c', 1, 7, "rwm"}, {'c', 1, 8, "rwm"}, {'c', 1, 9, "rwm"},    {'c', 5, 0, "rwm"},
    {'c', 5, 1, "rwm"}, {'c', 5, 2, "rwm"}, {'c', 136, -1, "rwm"},
};
#define N_DEFAULT_RULES (sizeof(default_rules) / sizeof(default_rules[0]))

static int bad(size_t i, const char *field, const char *value, const char *expected,
               struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "CreateContainer: devices[%zu].%s \"%.256s\": %s", i, field, value,
                        expected);
}

static int check_permissions(size_t i, const char *perm, char out[4], struct crisp_err *err)
{
    size_t len = strlen(perm);
    if (len == 0) {
        memcpy(out, "rwm", 4);
        return 0;
    }
    bool seen[3] = {false, false, false};
    for (size_t k = 0; k < len; k++) {
        const char *at = strchr("rwm", perm[k]);
        if (!perm[k] || !at || seen[at - "rwm"])
            return bad(i, "permissions", perm, "expected letters r, w, m, each at most once", err);
        seen[at - "rwm"] = true;
    }
    memcpy(out, perm, len + 1);
    return 0;
}

static int one_device(size_t i, const Runtime__V1__Device *in, struct crisp_device *node,
                      struct crisp_device_rule *rule, struct crisp_err *err)
{
    const char *base = strrchr(in->container_path, '/');
    if (in->container_path[0] != '/' || !base[1] || strcmp(base, "/.") == 0 ||
        strcmp(base, "/..") == 0)
        return bad(i, "container_path", in->container_path,
                   "expected an absolute path naming a file", err);
    if (in->host_path[0] != '/')
        return bad(i, "host_path", in->host_path, "expected an absolute path", err);
    struct stat st;
    if (stat(in->host_path, &st) < 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, errno,
                            "CreateContainer: devices[%zu].host_path \"%.256s\": %s", i,
                            in->host_path, strerror(errno));
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return bad(i, "host_path", in->host_path, "not a character or block device", err);
    int r = check_permissions(i, in->permissions, rule->access, err);
    if (r < 0)
        return r;
    *node = crisp_device_from_stat(crisp_xstrdup(in->container_path), &st);
    rule->type = node->type;
    rule->major = node->major;
    rule->minor = node->minor;
    return 0;
}

int crisp_ctr_set_devices(const Runtime__V1__ContainerConfig *cfg, bool privileged,
                          struct crisp_monitor_spec *s, struct crisp_err *err)
{
    size_t n = cfg->n_devices;
    if (n > MAX_DEVICES)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, E2BIG,
                            "CreateContainer: devices: %zu entries, at most %d", n, MAX_DEVICES);
    s->host_devices = privileged;
    s->devices = crisp_xcalloc(n + 1, sizeof(*s->devices));
    s->device_rules = crisp_xcalloc(N_DEFAULT_RULES + n, sizeof(*s->device_rules));
    if (privileged) {
        s->device_rules[s->n_device_rules++] = (struct crisp_device_rule){'a', -1, -1, "rwm"};
    } else {
        memcpy(s->device_rules, default_rules, sizeof(default_rules));
        s->n_device_rules = N_DEFAULT_RULES;
    }
    for (size_t i = 0; i < n; i++) {
        struct crisp_device_rule rule;
        int r = one_device(i, cfg->devices[i], &s->devices[s->n_devices], &rule, err);
        if (r < 0)
            return r;
        s->n_devices++;
        if (!privileged)
            s->device_rules[s->n_device_rules++] = rule;
    }
    return 0;
}
