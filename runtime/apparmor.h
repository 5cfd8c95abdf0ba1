/* AppArmor: host detection and the profile switch at exec. crisp does not load profiles (that
 * is apparmor_parser's job on the node); it applies profiles the host has loaded. */
#pragma once

#include <stdbool.h>

#include "util/err.h"

#define CRISP_APPARMOR_ENABLED_FILE  "/sys/module/apparmor/parameters/enabled"
#define CRISP_APPARMOR_PROFILES_FILE "/sys/kernel/security/apparmor/profiles"

/* Whether enabled_file (CRISP_APPARMOR_ENABLED_FILE) says "Y". A missing file: false. */
bool crisp_apparmor_enabled(const char *enabled_file);

/* Whether profiles_file (CRISP_APPARMOR_PROFILES_FILE: "<name> (<mode>)" lines) lists name. */
bool crisp_apparmor_profile_loaded(const char *profiles_file, const char *name);

/* In the container process, right before execve: the kernel switches to profile at exec.
 * Writes "exec <profile>" to /proc/self/attr/apparmor/exec, or /proc/self/attr/exec on kernels
 * without the per-LSM directory. */
int crisp_rt_apparmor_exec(const char *profile, struct crisp_err *err);
