#define _GNU_SOURCE
#include "oom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *next_line(char *line)
{
    char *nl = strchr(line, '\n');
    return nl ? nl + 1 : NULL;
}

int crisp_monitor_oom_count(const char *file, const char *key, uint64_t *count)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        if (n == 0 || (len += (size_t)n) == sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; line = next_line(line)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(line + klen + 1, &end, 10);
        if (errno || end == line + klen + 1 || (*end != '\n' && *end != '\0'))
            return -EINVAL;
        *count = v;
        return 0;
    }
    return -ENOENT;
}
