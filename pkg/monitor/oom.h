/* The OOM-kill counter of a cgroup: the "<key> <N>" line of a flat-keyed file such as
 * memory.events (cgroup v2) or memory.oom_control (v1), key "oom_kill". */
#pragma once

#include <stdint.h>

/* 0 and *count, -ENOENT when the key is missing, or -errno of the read. Never allocates. */
int crisp_monitor_oom_count(const char *file, const char *key, uint64_t *count);
