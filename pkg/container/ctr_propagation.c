#define _GNU_SOURCE
#include "container/ctr_propagation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cleanup.h"

struct mount_propagation {
    char mount_point[4096];
    bool shared, slave;
};

/* One /proc/self/mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - ...".
 * Fills out when ID is id. */
static bool parse_line(char *line, unsigned long long id, struct mount_propagation *out)
{
    char *save = NULL;
    char *field = strtok_r(line, " \n", &save);
    if (!field || strtoull(field, NULL, 10) != id)
        return false;
    for (int i = 1; i < 6 && field; i++) {
        field = strtok_r(NULL, " \n", &save);
        if (i == 4 && field)
            snprintf(out->mount_point, sizeof(out->mount_point), "%s", field);
    }
    while ((field = strtok_r(NULL, " \n", &save)) != NULL && strcmp(field, "-") != 0) {
        out->shared |= strncmp(field, "shared:", 7) == 0;
        out->slave |= strncmp(field, "master:", 7) == 0;
    }
    return true;
}

static int propagation_of(const char *path, struct mount_propagation *out, struct crisp_err *err)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &stx) < 0)
        return errno == ENOENT ? -ENOENT : crisp_syserrf(err, errno, "statx %s", path);
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return crisp_syserrf(err, errno, "open /proc/self/mountinfo");
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        if (parse_line(line, stx.stx_mnt_id, out))
            return 0;
    return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOENT,
                        "mount %llu of %s is not in /proc/self/mountinfo",
                        (unsigned long long)stx.stx_mnt_id, path);
}

int crisp_ctr_check_propagation(const char *host_path, bool bidirectional, struct crisp_err *err)
{
    struct mount_propagation p = {0};
    int r = propagation_of(host_path, &p, err);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (p.shared || (!bidirectional && p.slave))
        return 0;
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                        "host_path \"%s\" is mounted on \"%s\", which is not a shared%s mount: "
                        "%s propagation cannot work (make it shared: mount --make-rshared %s)",
                        host_path, p.mount_point, bidirectional ? "" : " or slave",
                        bidirectional ? "Bidirectional" : "HostToContainer", p.mount_point);
}
