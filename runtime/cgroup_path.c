/* Checking cgroup parents and names, building the relative path. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "runtime/cgroup_internal.h"
#include "util/mem.h"

/* Bounds: a component fits NAME_MAX; the whole relative path leaves room
 * below PATH_MAX for the mount and the longest interface file name. */
#define CG_COMPONENT_MAX 255
#define CG_REL_MAX       2048

static bool component_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static int check_component(const char *what, const char *s, size_t len, struct crisp_err *err)
{
    if (len == 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "cgroup %s \"%s\": empty path component", what, s);
    if (len > CG_COMPONENT_MAX)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "cgroup %s: a path component is longer than %d bytes", what,
                            CG_COMPONENT_MAX);
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "cgroup %s \"%.*s\": \".\" and \"..\" are not allowed", what, (int)len,
                            s);
    for (size_t i = 0; i < len; i++)
        if (!component_char_ok(s[i]))
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "cgroup %s \"%.*s\": character 0x%02x is not allowed (only "
                                "A-Z a-z 0-9 . _ -)",
                                what, (int)len, s, (unsigned char)s[i]);
    return 0;
}

static bool is_systemd_slice(const char *parent)
{
    size_t len = strlen(parent);
    return !strchr(parent, '/') && len > 6 && strcmp(parent + len - 6, ".slice") == 0;
}

static int check_parent(const char *parent, struct crisp_err *err)
{
    if (is_systemd_slice(parent))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "cgroup parent \"%s\" is a systemd slice, but crisp uses the "
                            "cgroupfs driver: set the kubelet's cgroupDriver to cgroupfs",
                            parent);
    const char *p = parent[0] == '/' ? parent + 1 : parent;
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        int r = check_component("parent", p, len, err);
        if (r < 0)
            return r;
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

int cg_path_join(const char *parent, const char *name, char **rel, struct crisp_err *err)
{
    if (!parent || !name)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "cgroup parent and name are required");
    if (strlen(parent) + strlen(name) + 1 > CG_REL_MAX)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ENAMETOOLONG,
                            "cgroup path is longer than %d bytes", CG_REL_MAX);
    int r = check_parent(parent, err);
    if (r < 0)
        return r;
    r = check_component("name", name, strlen(name), err);
    if (r < 0)
        return r;
    const char *p = parent[0] == '/' ? parent + 1 : parent;
    *rel = *p ? crisp_xasprintf("%s/%s", p, name) : crisp_xstrdup(name);
    return 0;
}
