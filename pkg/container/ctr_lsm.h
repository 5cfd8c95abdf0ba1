/* Linux security modules for a container: which AppArmor profile it runs under, and what
 * happens to SELinux options. crisp applies profiles the node has loaded; it does not load any.
 *
 * AppArmor (security_context.apparmor, or the deprecated apparmor_profile string
 * "runtime/default" | "unconfined" | "localhost/<name>"; unset = RuntimeDefault):
 *   privileged or Unconfined            no profile
 *   RuntimeDefault on an AppArmor host  "crisp-default" when the node has loaded it, else none
 *                                       (logged once per container)
 *   RuntimeDefault without AppArmor     accepted, no profile
 *   Localhost <name>                    the node must have AppArmor (FAILED_PRECONDITION
 *                                       naming the field otherwise) and the profile loaded
 *                                       (FAILED_PRECONDITION); a malformed name INVALID_ARGUMENT
 * SELinux options are accepted and ignored where SELinux is off; on an SELinux host a
 * non-empty label is UNIMPLEMENTED (crisp cannot label yet). */
#pragma once

#include "api.pb-c.h"
#include "util/err.h"

#define CRISP_APPARMOR_DEFAULT_PROFILE "crisp-default"

enum crisp_profile_kind { CRISP_PROFILE_DEFAULT, CRISP_PROFILE_NONE, CRISP_PROFILE_LOCALHOST };

/* A SecurityProfile's kind (seccomp and AppArmor alike); *ref = localhost_ref for Localhost.
 * An unknown profile_type is INVALID_ARGUMENT naming field ("security_context.seccomp"). */
int crisp_ctr_profile_kind(const Runtime__V1__SecurityProfile *p, const char *field,
                           enum crisp_profile_kind *kind, const char **ref, struct crisp_err *err);

struct crisp_lsm_host {
    const char *apparmor_enabled_file;  /* CRISP_APPARMOR_ENABLED_FILE */
    const char *apparmor_profiles_file; /* CRISP_APPARMOR_PROFILES_FILE */
    const char *selinux_enforce_file;   /* "/sys/fs/selinux/enforce": exists when SELinux is on */
};

/* The host's real files. */
extern const struct crisp_lsm_host crisp_lsm_host_default;

/* *profile: malloc'd profile name, or NULL for none. */
int crisp_ctr_apparmor_profile(const Runtime__V1__LinuxContainerSecurityContext *sc,
                               const struct crisp_lsm_host *host, char **profile,
                               struct crisp_err *err);

int crisp_ctr_selinux_check(const Runtime__V1__LinuxContainerSecurityContext *sc,
                            const struct crisp_lsm_host *host, struct crisp_err *err);
