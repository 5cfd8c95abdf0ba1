#define _GNU_SOURCE
#include "apparmor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

bool crisp_apparmor_enabled(const char *enabled_file)
{
    _cleanup_fclose_ FILE *f = fopen(enabled_file, "re");
    return f && fgetc(f) == 'Y';
}

bool crisp_apparmor_profile_loaded(const char *profiles_file, const char *name)
{
    _cleanup_fclose_ FILE *f = fopen(profiles_file, "re");
    if (!f)
        return false;
    size_t len = strlen(name);
    char line[4096];
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, name, len) == 0 && strncmp(line + len, " (", 2) == 0)
            return true;
    return false;
}

int crisp_rt_apparmor_exec(const char *profile, struct crisp_err *err)
{
    int fd = open("/proc/self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        fd = open("/proc/self/attr/exec", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return crisp_syserrf(err, errno, "apparmor profile %s: open /proc/self/attr exec", profile);
    char buf[4200];
    int len = snprintf(buf, sizeof(buf), "exec %s", profile);
    ssize_t n = len < (int)sizeof(buf) ? write(fd, buf, (size_t)len) : (errno = ENAMETOOLONG, -1);
    int e = errno;
    close(fd);
    if (n != len)
        return crisp_syserrf(err, n < 0 ? e : EIO, "apparmor profile %s: set for exec", profile);
    return 0;
}
