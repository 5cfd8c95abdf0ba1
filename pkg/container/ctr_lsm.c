#define _GNU_SOURCE
#include "container/ctr_lsm.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "runtime/apparmor.h"
#include "util/log.h"
#include "util/mem.h"

#define PROFILE_NAME_MAX 255

const struct crisp_lsm_host crisp_lsm_host_default = {
    .apparmor_enabled_file = CRISP_APPARMOR_ENABLED_FILE,
    .apparmor_profiles_file = CRISP_APPARMOR_PROFILES_FILE,
    .selinux_enforce_file = "/sys/fs/selinux/enforce",
};

int crisp_ctr_profile_kind(const Runtime__V1__SecurityProfile *p, const char *field,
                           enum crisp_profile_kind *kind, const char **ref, struct crisp_err *err)
{
    switch (p->profile_type) {
    case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
        *kind = CRISP_PROFILE_DEFAULT;
        return 0;
    case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
        *kind = CRISP_PROFILE_NONE;
        return 0;
    case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
        *kind = CRISP_PROFILE_LOCALHOST;
        *ref = p->localhost_ref;
        return 0;
    default:
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: %s.profile_type %d: expected RuntimeDefault, "
                            "Unconfined or Localhost",
                            field, (int)p->profile_type);
    }
}

/* What the kubelet asked for; *name points into sc for Localhost. field: for messages. */
static int requested(const Runtime__V1__LinuxContainerSecurityContext *sc,
                     enum crisp_profile_kind *kind, const char **name, const char **field,
                     struct crisp_err *err)
{
    *kind = CRISP_PROFILE_DEFAULT;
    *field = "security_context.apparmor.localhost_ref";
    if (sc->apparmor)
        return crisp_ctr_profile_kind(sc->apparmor, "security_context.apparmor", kind, name, err);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const char *legacy = sc->apparmor_profile ? sc->apparmor_profile : "";
#pragma GCC diagnostic pop
    *field = "security_context.apparmor_profile";
    if (!*legacy || strcmp(legacy, "runtime/default") == 0)
        return 0;
    if (strcmp(legacy, "unconfined") == 0) {
        *kind = CRISP_PROFILE_NONE;
        return 0;
    }
    if (strncmp(legacy, "localhost/", 10) == 0) {
        *kind = CRISP_PROFILE_LOCALHOST;
        *name = legacy + 10;
        return 0;
    }
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "CreateContainer: security_context.apparmor_profile \"%.256s\": expected "
                        "runtime/default, unconfined or localhost/<profile>",
                        legacy);
}

static bool name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > PROFILE_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

static int localhost(const char *name, const char *field, const struct crisp_lsm_host *host,
                     char **profile, struct crisp_err *err)
{
    if (!name_ok(name))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: %s \"%.256s\": expected an AppArmor profile name "
                            "(1 to 255 characters, no spaces or control characters)",
                            field, name);
    if (!crisp_apparmor_enabled(host->apparmor_enabled_file))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOTSUP,
                            "CreateContainer: %s \"%s\": AppArmor is not enabled on this node "
                            "(%s is not Y); use RuntimeDefault or Unconfined",
                            field, name, host->apparmor_enabled_file);
    if (!crisp_apparmor_profile_loaded(host->apparmor_profiles_file, name))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "CreateContainer: %s \"%s\": no such AppArmor profile is loaded on "
                            "this node (see %s)",
                            field, name, host->apparmor_profiles_file);
    *profile = crisp_xstrdup(name);
    return 0;
}

int crisp_ctr_apparmor_profile(const Runtime__V1__LinuxContainerSecurityContext *sc,
                               const struct crisp_lsm_host *host, char **profile,
                               struct crisp_err *err)
{
    *profile = NULL;
    enum crisp_profile_kind kind = CRISP_PROFILE_DEFAULT;
    const char *name = NULL, *field = "";
    int r = sc ? requested(sc, &kind, &name, &field, err) : 0;
    if (r < 0 || kind == CRISP_PROFILE_NONE ||
        (sc && sc->privileged && kind == CRISP_PROFILE_DEFAULT))
        return r;
    if (kind == CRISP_PROFILE_LOCALHOST)
        return localhost(name, field, host, profile, err);
    if (!crisp_apparmor_enabled(host->apparmor_enabled_file))
        return 0;
    if (crisp_apparmor_profile_loaded(host->apparmor_profiles_file, CRISP_APPARMOR_DEFAULT_PROFILE))
        *profile = crisp_xstrdup(CRISP_APPARMOR_DEFAULT_PROFILE);
    else
        log_warn("container",
                 "AppArmor is enabled but profile %s is not loaded: running the "
                 "container without an AppArmor profile",
                 CRISP_APPARMOR_DEFAULT_PROFILE);
    return 0;
}

static bool label_set(const Runtime__V1__SELinuxOption *o)
{
    return o && (*o->user || *o->role || *o->type || *o->level);
}

int crisp_ctr_selinux_check(const Runtime__V1__LinuxContainerSecurityContext *sc,
                            const struct crisp_lsm_host *host, struct crisp_err *err)
{
    if (!sc || !label_set(sc->selinux_options) || access(host->selinux_enforce_file, F_OK) < 0)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_UNIMPLEMENTED, ENOTSUP,
                        "CreateContainer: security_context.selinux_options: SELinux is on "
                        "on this node and crisp cannot label containers yet");
}
