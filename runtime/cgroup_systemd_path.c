/* Slice names to cgroup paths, as systemd's slice_build_subslice/unit name
 * rules have it (runc's ExpandSlice does the same). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "runtime/cgroup_systemd.h"
#include "util/mem.h"

#define SLICE_SUFFIX  ".slice"
#define UNIT_NAME_MAX 255

static bool slice_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static int bad(const char *slice, const char *why, struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "cgroup parent \"%s\" is not a systemd slice name (%s): the systemd "
                        "cgroup driver expects e.g. \"kubepods-burstable-pod1234.slice\"",
                        slice, why);
}

static int check_slice(const char *slice, size_t prefix_len, struct crisp_err *err)
{
    size_t len = strlen(slice);
    if (len > UNIT_NAME_MAX)
        return bad(slice, "longer than 255 bytes", err);
    if (len <= strlen(SLICE_SUFFIX) || strcmp(slice + prefix_len, SLICE_SUFFIX) != 0)
        return bad(slice, "it must end in \".slice\"", err);
    for (size_t i = 0; i < prefix_len; i++)
        if (!slice_char_ok(slice[i]))
            return bad(slice, "only A-Z a-z 0-9 _ . - are allowed", err);
    if (slice[0] == '-' || slice[prefix_len - 1] == '-' || strstr(slice, "--"))
        return bad(slice, "a dash-separated part is empty", err);
    return 0;
}

int crisp_systemd_slice_path(const char *slice, char **out, struct crisp_err *err)
{
    if (!*slice || strcmp(slice, "-" SLICE_SUFFIX) == 0) {
        *out = crisp_xstrdup("");
        return 0;
    }
    size_t len = strlen(slice);
    size_t prefix_len = len > strlen(SLICE_SUFFIX) ? len - strlen(SLICE_SUFFIX) : 0;
    int r = check_slice(slice, prefix_len, err);
    if (r < 0)
        return r;
    /* Each dash ends one ancestor: "a-b-c" -> "a", "a-b", "a-b-c". */
    size_t cap = 0;
    for (size_t i = 0; i <= prefix_len; i++)
        if (i == prefix_len || slice[i] == '-')
            cap += i + strlen(SLICE_SUFFIX) + 1;
    char *path = crisp_xmalloc(cap + 1);
    size_t at = 0;
    for (size_t i = 0; i <= prefix_len; i++) {
        if (i != prefix_len && slice[i] != '-')
            continue;
        if (at)
            path[at++] = '/';
        memcpy(path + at, slice, i);
        at += i;
        memcpy(path + at, SLICE_SUFFIX, strlen(SLICE_SUFFIX));
        at += strlen(SLICE_SUFFIX);
    }
    path[at] = '\0';
    *out = path;
    return 0;
}

char *crisp_systemd_scope_name(const char *id)
{
    return crisp_xasprintf("crisp-%s.scope", id);
}
