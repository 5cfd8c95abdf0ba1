#include "stream/net_io.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

int crisp_write_all(int fd, const void *buf, size_t len, struct crisp_err *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0)
            return crisp_syserrf(err, errno, "stream: write");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
