/* Freezing and thawing a cgroup: v1 freezer.state, v2 cgroup.freeze. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

#define FREEZE_POLLS   1000 /* x 1 ms */
#define FREEZE_POLL_NS (1000 * 1000)

static bool is_frozen(const struct crisp_cgroup_dir *d)
{
    struct crisp_err ignored;
    if (d->h.unified) {
        uint64_t frozen = 0;
        return cg_read_keyed(d->path, "cgroup.events", "frozen", &frozen, &ignored) == 0 &&
               frozen == 1;
    }
    _cleanup_free_ char *state = NULL;
    return cg_read(d->path, "freezer.state", &state, &ignored) == 0 && strcmp(state, "FROZEN") == 0;
}

/* Tasks stop at their next return to user space; a task in an
 * uninterruptible sleep can take a while. Not frozen in time is not an
 * error: the caller signals anyway. */
static void wait_frozen(const struct crisp_cgroup_dir *d)
{
    for (int i = 0; i < FREEZE_POLLS; i++) {
        if (is_frozen(d))
            return;
        nanosleep(&(struct timespec){.tv_nsec = FREEZE_POLL_NS}, NULL);
    }
    log_warn(CG_LOG, "%s did not freeze within 1 s", d->path);
}

int cg_freeze(const struct crisp_cgroup *cg, bool freeze, bool *done, struct crisp_err *err)
{
    *done = false;
    const struct crisp_cgroup_dir *d = cg_dir(cg, CRISP_CGROUP_FREEZER);
    if (!d || (d->h.unified && !cg_file_exists(d->path, "cgroup.freeze")))
        return 0;
    int r;
    if (d->h.unified)
        r = cg_write(d->path, "cgroup.freeze", freeze ? "1" : "0", err);
    else
        r = cg_write(d->path, "freezer.state", freeze ? "FROZEN" : "THAWED", err);
    if (r < 0)
        return r;
    if (freeze)
        wait_frozen(d);
    *done = true;
    return 0;
}
