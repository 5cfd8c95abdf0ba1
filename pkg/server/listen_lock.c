#define _GNU_SOURCE
#include "server/listen_lock.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

static int ensure_socket_dir(const char *socket_path, struct crisp_err *err)
{
    _cleanup_free_ char *copy = crisp_xstrdup(socket_path);
    const char *dir = dirname(copy);
    if (access(dir, F_OK) == 0)
        return 0; /* an operator-made directory keeps its mode */
    return crisp_mkdir_p(dir, 0700, err);
}

static long read_holder_pid(int fd)
{
    char buf[32] = {0};
    if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
        return 0;
    return strtol(buf, NULL, 10);
}

static int record_pid(int fd, const char *lock_path, struct crisp_err *err)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return crisp_syserrf(err, errno, "write pid to %s", lock_path);
    return 0;
}

/* True when some process accepts connections on the path. */
static bool socket_is_live(const char *socket_path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(addr.sun_path))
        return false;
    strcpy(addr.sun_path, socket_path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    return connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
}

int crisp_listen_lock(const char *socket_path, struct crisp_err *err)
{
    struct sockaddr_un addr;
    if (strlen(socket_path) >= sizeof(addr.sun_path))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ENAMETOOLONG,
                            "socket path %s is too long: at most %zu bytes", socket_path,
                            sizeof(addr.sun_path) - 1);
    int r = ensure_socket_dir(socket_path, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *lock_path = crisp_xasprintf("%s.lock", socket_path);
    _cleanup_close_ int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return crisp_syserrf(err, errno, "open lock file %s", lock_path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return crisp_errorf(err, GRPC_STATUS_ALREADY_EXISTS, EBUSY,
                                "another crispd (pid %ld) is already serving %s",
                                read_holder_pid(fd), socket_path);
        return crisp_syserrf(err, errno, "lock %s", lock_path);
    }
    if (socket_is_live(socket_path))
        return crisp_errorf(err, GRPC_STATUS_ALREADY_EXISTS, EADDRINUSE,
                            "another process is listening on %s; stop it or choose another "
                            "--listen path",
                            socket_path);
    if (unlink(socket_path) < 0 && errno != ENOENT)
        return crisp_syserrf(err, errno, "remove stale socket %s", socket_path);
    r = record_pid(fd, lock_path, err);
    if (r < 0)
        return r;
    return crisp_steal_fd(fd);
}

void crisp_listen_unlock(const char *socket_path, int lock_fd)
{
    unlink(socket_path);
    close(lock_fd);
}
