#define _GNU_SOURCE
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/container.h"
#include "runtime/process.h"
#include "runtime/resolve.h"
#include "runtime/rootfs.h"
#include "runtime/sync.h"
#include "util/cleanup.h"

/* The cwd, made as root (0755, root-owned) inside the new root when missing. */
static int make_cwd(const char *cwd, struct crisp_err *err)
{
    if (!cwd)
        return 0;
    _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return crisp_syserrf(err, errno, "open /");
    _cleanup_close_ int fd = crisp_rt_mkdir_in_root(root, cwd, 0755, 0, err);
    return fd < 0 ? fd : 0;
}

/* Session, signals, stdio copies, hostname, file system. */
static int prepare(const struct crisp_container_spec *spec, struct crisp_rt_stdio *stdio,
                   struct crisp_err *err)
{
    umask(0);
    if (setsid() < 0)
        return crisp_syserrf(err, errno, "setsid");
    crisp_rt_signals_reset();
    int r = crisp_rt_stdio_save(&spec->process, stdio, err);
    if (r < 0)
        return r;
    if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
        return crisp_syserrf(err, errno, "set hostname %s", spec->hostname);
    r = crisp_rt_rootfs_setup(spec, err);
    if (r == 0)
        r = make_cwd(spec->process.cwd, err);
    if (r == 0)
        r = crisp_rt_rootfs_finish(spec, err);
    return r;
}

/* Blocks until START; any other outcome (the caller closed the channel) ends the process. */
static void wait_for_start(int sync_fd)
{
    struct crisp_rt_msg msg;
    if (crisp_rt_sync_recv(sync_fd, &msg, NULL) == 1 && msg.type == CRISP_RT_MSG_START)
        return;
    _exit(1);
}

int crisp_rt_init_run(int sync_fd, const void *arg, struct crisp_err *err)
{
    const struct crisp_container_spec *spec = arg;
    struct crisp_rt_stdio stdio;
    int r = prepare(spec, &stdio, err);
    if (r == 0)
        r = crisp_rt_become_process(&spec->process, &stdio, sync_fd, err);
    if (r < 0)
        return r;
    r = crisp_rt_sync_send(sync_fd, CRISP_RT_MSG_READY, 0, -1);
    if (r < 0)
        _exit(1);
    wait_for_start(sync_fd);
    return crisp_rt_exec(&spec->process, err);
}
