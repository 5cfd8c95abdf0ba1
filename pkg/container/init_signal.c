#define _GNU_SOURCE
#include "container/init_signal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From /proc/<pid>/status: the last NSpid field (the pid in its own namespace) and SigCgt. */
static bool read_status(pid_t pid, long *ns_pid, unsigned long long *caught)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[512];
    bool have_ns = false, have_cgt = false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "NSpid:", 6) == 0) {
            char *last = strrchr(line, '\t');
            *ns_pid = strtol(last ? last + 1 : line + 6, NULL, 10);
            have_ns = true;
        } else if (strncmp(line, "SigCgt:", 7) == 0) {
            *caught = strtoull(line + 7, NULL, 16);
            have_cgt = true;
        }
    }
    fclose(f);
    return have_ns && have_cgt;
}

bool crisp_init_drops_signal(pid_t pid, int sig)
{
    long ns_pid = 0;
    unsigned long long caught = 0;
    if (pid <= 0 || sig == SIGKILL || sig == SIGSTOP || sig < 1 || sig > 64 ||
        !read_status(pid, &ns_pid, &caught))
        return false;
    return ns_pid == 1 && !(caught & (1ULL << (sig - 1)));
}
