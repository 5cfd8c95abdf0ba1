/* Waiting for a file to appear in a directory (a record another process
 * renames into place), woken by inotify rather than by polling. */
#pragma once

#include <stdbool.h>

/* True once <dir>/<name> exists, false when timeout_ms (0: just check) passed
 * first. Falls back to 10 ms polls when inotify is unavailable. */
bool crisp_wait_for_file(const char *dir, const char *name, int timeout_ms);
