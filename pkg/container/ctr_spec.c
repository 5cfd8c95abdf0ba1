#define _GNU_SOURCE
#include "container/ctr_spec.h"

#include "container/ctr_pidns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "container/ctr_devices.h"
#include "container/ctr_lsm.h"
#include "container/ctr_propagation.h"
#include "container/ctr_resources.h"
#include "container/image_config.h"
#include "container/user.h"
#include "runtime/capabilities.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

static char **strv_concat(char *const *a, size_t na, char *const *b, size_t nb, size_t *n)
{
    char **out = crisp_xcalloc(na + nb + 1, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        out[i] = crisp_xstrdup(a[i]);
    for (size_t i = 0; i < nb; i++)
        out[na + i] = crisp_xstrdup(b[i]);
    *n = na + nb;
    return out;
}

/* The kubelet's rule: command replaces Entrypoint (and drops Cmd); args replace Cmd. */
static int build_argv(const Runtime__V1__ContainerConfig *cfg,
                      const struct crisp_image_defaults *img, char ***argv, struct crisp_err *err)
{
    size_t n = 0;
    if (cfg->n_command > 0)
        *argv = strv_concat(cfg->command, cfg->n_command, cfg->args, cfg->n_args, &n);
    else if (cfg->n_args > 0)
        *argv = strv_concat(img->entrypoint, img->n_entrypoint, cfg->args, cfg->n_args, &n);
    else
        *argv = strv_concat(img->entrypoint, img->n_entrypoint, img->cmd, img->n_cmd, &n);
    if (n == 0 || !**argv[0])
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: no command: the config has no command or args and "
                            "the image has no Entrypoint or Cmd");
    return 0;
}

static size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Image Env, then the config's envs replacing same-named ones, then HOSTNAME. */
static char **build_env(const Runtime__V1__ContainerConfig *cfg,
                        const struct crisp_image_defaults *img, const char *hostname)
{
    size_t n = img->n_env;
    char **env = crisp_xcalloc(img->n_env + cfg->n_envs + 2, sizeof(char *));
    for (size_t i = 0; i < img->n_env; i++)
        env[i] = crisp_xstrdup(img->env[i]);
    for (size_t e = 0; e < cfg->n_envs; e++) {
        const Runtime__V1__KeyValue *kv = cfg->envs[e];
        char *entry =
            crisp_xasprintf("%s=%.*s", kv->key, (int)kv->value.len, (const char *)kv->value.data);
        size_t klen = strlen(kv->key), i;
        for (i = 0; i < n; i++)
            if (env_key_len(env[i]) == klen && strncmp(env[i], kv->key, klen) == 0)
                break;
        if (i < n)
            free(env[i]);
        else
            n++;
        env[i] = entry;
    }
    bool has_hostname = false;
    for (size_t i = 0; i < n; i++)
        has_hostname |= strncmp(env[i], "HOSTNAME=", 9) == 0;
    if (!has_hostname)
        env[n++] = crisp_xasprintf("HOSTNAME=%s", hostname);
    return env;
}

static void add_mount(struct crisp_monitor_spec *s, const char *src, const char *dst, bool ro,
                      enum crisp_mount_propagation prop)
{
    s->mounts = crisp_xrealloc(s->mounts, (s->n_mounts + 1) * sizeof(*s->mounts));
    s->mounts[s->n_mounts++] = (struct crisp_bind_mount){.source = crisp_xstrdup(src),
                                                         .destination = crisp_xstrdup(dst),
                                                         .readonly = ro,
                                                         .propagation = prop};
}

static bool has_destination(const Runtime__V1__ContainerConfig *cfg, const char *dst)
{
    for (size_t i = 0; i < cfg->n_mounts; i++)
        if (strcmp(cfg->mounts[i]->container_path, dst) == 0)
            return true;
    return false;
}

static int add_cri_mounts(const Runtime__V1__ContainerConfig *cfg, struct crisp_monitor_spec *s,
                          struct crisp_err *err)
{
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        const Runtime__V1__Mount *m = cfg->mounts[i];
        if (m->container_path[0] != '/' || m->host_path[0] != '/')
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "CreateContainer: mounts[%zu]: container_path and host_path must "
                                "be absolute, got \"%s\" and \"%s\"",
                                i, m->container_path, m->host_path);
        enum crisp_mount_propagation prop =
            m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER
                ? CRISP_PROP_RSLAVE
            : m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL
                ? CRISP_PROP_RSHARED
                : CRISP_PROP_PRIVATE;
        if (prop != CRISP_PROP_PRIVATE &&
            crisp_ctr_check_propagation(m->host_path, prop == CRISP_PROP_RSHARED, err) < 0) {
            crisp_err_prefix(err, "CreateContainer: mounts[%zu]", i);
            return -EINVAL;
        }
        add_mount(s, m->host_path, m->container_path, m->readonly, prop);
    }
    return 0;
}

/* /etc/hosts, /etc/resolv.conf, /etc/hostname and /dev/shm of the pod, unless
 * the kubelet mounts its own there. */
static void add_pod_mounts(const Runtime__V1__ContainerConfig *cfg, const struct crisp_pod *pod,
                           bool host_ipc, struct crisp_monitor_spec *s)
{
    static const char *const files[] = {"hosts", "resolv.conf", "hostname"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_free_ char *dst = crisp_xasprintf("/etc/%s", files[i]);
        _cleanup_free_ char *src = crisp_xasprintf("%s/%s", pod->dir, files[i]);
        if (!has_destination(cfg, dst))
            add_mount(s, src, dst, false, CRISP_PROP_PRIVATE);
    }
    _cleanup_free_ char *shm = crisp_xasprintf("%s/shm", pod->dir);
    if (!has_destination(cfg, "/dev/shm"))
        add_mount(s, host_ipc ? "/dev/shm" : shm, "/dev/shm", false, CRISP_PROP_PRIVATE);
}

static char *pod_ns(const struct crisp_pod *pod, const char *type)
{
    return crisp_xasprintf("%s/ns/%s", pod->dir, type);
}

static int set_namespaces(const struct crisp_ctr_env *env, const Runtime__V1__ContainerConfig *cfg,
                          const struct crisp_pod *pod, struct crisp_monitor_spec *s,
                          struct crisp_err *err)
{
    s->host_net = crisp_pod_ns_mode(pod, 'n') == RUNTIME__V1__NAMESPACE_MODE__NODE;
    s->host_uts = s->host_net;
    s->host_ipc = crisp_pod_ns_mode(pod, 'i') == RUNTIME__V1__NAMESPACE_MODE__NODE;
    if (!s->host_net) {
        s->netns = pod_ns(pod, "net");
        s->utsns = pod_ns(pod, "uts");
    }
    if (!s->host_ipc)
        s->ipcns = pod_ns(pod, "ipc");
    return crisp_ctr_set_pid_namespace(env, cfg, pod, s, err);
}

static int set_user(const Runtime__V1__ContainerConfig *cfg, const struct crisp_image_defaults *img,
                    struct crisp_monitor_spec *s, struct crisp_err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    struct crisp_user_request req = {.image_user = img->user};
    if (sc) {
        req.has_uid = sc->run_as_user != NULL;
        req.uid = sc->run_as_user ? sc->run_as_user->value : 0;
        req.has_gid = sc->run_as_group != NULL;
        req.gid = sc->run_as_group ? sc->run_as_group->value : 0;
        req.username = sc->run_as_username;
        req.supplemental = sc->supplemental_groups;
        req.n_supplemental = sc->n_supplemental_groups;
        req.strict =
            sc->supplemental_groups_policy == RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
        if (req.has_gid && !req.has_uid && !(req.username && *req.username))
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "CreateContainer: run_as_group needs run_as_user or "
                                "run_as_username");
    }
    struct crisp_user u;
    int r = crisp_user_resolve(s->lowerdirs, s->n_lowerdirs, &req, &u, err);
    if (r < 0)
        return r;
    s->uid = u.uid;
    s->gid = u.gid;
    /* The primary group leads the supplementary list, as containerd does since CVE-2023-25173
     * (a process that changes its gid keeps access through it; `id` shows it in groups). */
    s->groups = crisp_xcalloc(u.n_groups + 2, sizeof(gid_t));
    s->groups[s->n_groups++] = u.gid;
    for (size_t i = 0; i < u.n_groups; i++)
        if (u.groups[i] != u.gid)
            s->groups[s->n_groups++] = u.groups[i];
    crisp_user_free(&u);
    return 0;
}

static bool add_cap(int *caps, size_t *n, int cap)
{
    for (size_t i = 0; i < *n; i++)
        if (caps[i] == cap)
            return true;
    if (*n >= CRISP_CAP_MAX)
        return false;
    caps[(*n)++] = cap;
    return true;
}

static void remove_cap(int *caps, size_t *n, int cap)
{
    for (size_t i = 0; i < *n; i++)
        if (caps[i] == cap)
            caps[i--] = caps[--*n];
}

/* Applies one add or drop list ("ALL" allowed) to the set. */
static int edit_caps(int *caps, size_t *n, char **names, size_t n_names, bool add,
                     struct crisp_err *err)
{
    for (size_t i = 0; i < n_names; i++) {
        if (strcasecmp(names[i], "ALL") == 0) {
            if (add)
                *n = crisp_cap_all(caps, CRISP_CAP_MAX);
            else
                *n = 0;
            continue;
        }
        int cap = crisp_cap_from_name(names[i]);
        if (cap < 0)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "CreateContainer: security_context.capabilities.%s_capabilities: "
                                "unknown capability \"%s\"",
                                add ? "add" : "drop", names[i]);
        if (add)
            add_cap(caps, n, cap);
        else
            remove_cap(caps, n, cap);
    }
    return 0;
}

/* The default set, drops then adds (containerd's order: an explicit add wins);
 * privileged: every capability, no masked or read-only paths. */
static int set_security(const Runtime__V1__LinuxContainerSecurityContext *sc,
                        struct crisp_monitor_spec *s, struct crisp_err *err)
{
    int caps[CRISP_CAP_MAX];
    size_t n = 0;
    if (sc && sc->privileged) {
        n = crisp_cap_all(caps, CRISP_CAP_MAX);
    } else {
        size_t n_default;
        const int *defaults = crisp_cap_default_set(&n_default);
        memcpy(caps, defaults, n_default * sizeof(int));
        n = n_default;
        const Runtime__V1__Capability *c = sc ? sc->capabilities : NULL;
        if (c && c->n_add_ambient_capabilities > 0)
            return crisp_errorf(err, GRPC_STATUS_UNIMPLEMENTED, ENOSYS,
                                "CreateContainer: ambient capabilities are not supported yet");
        int r =
            c ? edit_caps(caps, &n, c->drop_capabilities, c->n_drop_capabilities, false, err) : 0;
        if (r == 0 && c)
            r = edit_caps(caps, &n, c->add_capabilities, c->n_add_capabilities, true, err);
        if (r < 0)
            return r;
        s->masked_paths = crisp_xcalloc(sc ? sc->n_masked_paths + 1 : 1, sizeof(char *));
        s->readonly_paths = crisp_xcalloc(sc ? sc->n_readonly_paths + 1 : 1, sizeof(char *));
        for (size_t i = 0; sc && i < sc->n_masked_paths; i++)
            s->masked_paths[s->n_masked_paths++] = crisp_xstrdup(sc->masked_paths[i]);
        for (size_t i = 0; sc && i < sc->n_readonly_paths; i++)
            s->readonly_paths[s->n_readonly_paths++] = crisp_xstrdup(sc->readonly_paths[i]);
    }
    s->caps = crisp_xcalloc(n + 1, sizeof(int));
    memcpy(s->caps, caps, n * sizeof(int));
    s->n_caps = n;
    s->caps_set = true;
    s->no_new_privs = sc && sc->no_new_privs;
    s->sys_writable = sc && sc->privileged;
    return 0;
}

#define SECCOMP_PROFILE_MAX (1u << 20)

static int seccomp_from_file(const char *path, struct crisp_monitor_spec *s, struct crisp_err *err)
{
    if (path[0] != '/')
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: seccomp localhost profile \"%s\" must be an "
                            "absolute path on the node",
                            path);
    char *json = NULL;
    int r = crisp_read_file(path, SECCOMP_PROFILE_MAX, &json, NULL, err);
    if (r < 0) {
        crisp_err_prefix(err, "CreateContainer: seccomp localhost profile");
        err->code = GRPC_STATUS_INVALID_ARGUMENT;
        return r;
    }
    s->seccomp_set = true;
    s->seccomp.kind = CRISP_SECCOMP_PROFILE;
    s->seccomp.profile_json = json;
    return 0;
}

/* SecurityProfile, or the deprecated seccomp_profile_path strings; absent =
 * unconfined, as the kubelet means it; privileged containers run unconfined. */
static int set_seccomp(const Runtime__V1__LinuxContainerSecurityContext *sc,
                       struct crisp_monitor_spec *s, struct crisp_err *err)
{
    if (!sc || sc->privileged)
        return 0;
    if (sc->seccomp) {
        enum crisp_profile_kind kind;
        const char *ref = NULL;
        int r = crisp_ctr_profile_kind(sc->seccomp, "security_context.seccomp", &kind, &ref, err);
        if (r < 0 || kind == CRISP_PROFILE_NONE)
            return r;
        if (kind == CRISP_PROFILE_LOCALHOST)
            return seccomp_from_file(ref, s, err);
        s->seccomp_set = true;
        s->seccomp.kind = CRISP_SECCOMP_RUNTIME_DEFAULT;
        return 0;
    }
    /* The kubelet may still send the deprecated string form. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const char *legacy = sc->seccomp_profile_path ? sc->seccomp_profile_path : "";
#pragma GCC diagnostic pop
    if (!*legacy || strcmp(legacy, "unconfined") == 0)
        return 0;
    if (strcmp(legacy, "runtime/default") == 0 || strcmp(legacy, "docker/default") == 0) {
        s->seccomp_set = true;
        s->seccomp.kind = CRISP_SECCOMP_RUNTIME_DEFAULT;
        return 0;
    }
    if (strncmp(legacy, "localhost/", 10) == 0)
        return seccomp_from_file(legacy + 9, s, err);
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "CreateContainer: seccomp_profile_path \"%s\": expected runtime/default, "
                        "docker/default, unconfined or localhost/<absolute path>",
                        legacy);
}

static void set_rootfs(const struct crisp_ctr_env *env, const struct crisp_ctr *c,
                       const struct crisp_image *image, struct crisp_monitor_spec *s)
{
    s->container_id = crisp_xstrdup(c->id);
    s->lowerdirs = crisp_xcalloc(image->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < image->n_layers; i++)
        s->lowerdirs[i] = crisp_image_store_layer_dir(env->images, image->chain_ids[i]);
    s->n_lowerdirs = image->n_layers;
    s->upperdir = crisp_xasprintf("%s/upper", c->rw_dir);
    s->workdir = crisp_xasprintf("%s/work", c->rw_dir);
    s->rootfs = crisp_xasprintf("%s/rootfs", c->rw_dir);
}

int crisp_ctr_build_spec(const struct crisp_ctr_env *env, struct crisp_ctr *c,
                         const struct crisp_pod *pod, const struct crisp_image *image,
                         struct crisp_monitor_spec *s, struct crisp_err *err)
{
    const Runtime__V1__ContainerConfig *cfg = c->config;
    memset(s, 0, sizeof(*s));
    struct crisp_image_defaults img;
    int r = crisp_image_defaults_load(env->images, image->id, &img, err);
    if (r < 0)
        return r;
    set_rootfs(env, c, image, s);
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    s->readonly_rootfs = sc && sc->readonly_rootfs;
    r = crisp_ctr_resources_validate("CreateContainer", "config.linux.resources",
                                     cfg->linux ? cfg->linux->resources : NULL, err);
    if (r == 0)
        r = set_namespaces(env, cfg, pod, s, err);
    if (r == 0)
        r = add_cri_mounts(cfg, s, err);
    if (r == 0) {
        add_pod_mounts(cfg, pod, s->host_ipc, s);
        r = build_argv(cfg, &img, &s->argv, err);
    }
    if (r == 0)
        r = set_user(cfg, &img, s, err);
    if (r == 0)
        r = set_security(sc, s, err);
    if (r == 0)
        r = set_seccomp(sc, s, err);
    if (r == 0)
        r = crisp_ctr_set_devices(cfg, sc && sc->privileged, s, err);
    if (r == 0)
        r = crisp_ctr_apparmor_profile(sc, &crisp_lsm_host_default, &s->apparmor_profile, err);
    if (r == 0)
        r = crisp_ctr_selinux_check(sc, &crisp_lsm_host_default, err);
    if (r == 0) {
        s->env = build_env(cfg, &img, pod->hostname);
        const char *wd = *cfg->working_dir ? cfg->working_dir : img.working_dir;
        s->cwd = crisp_xstrdup(*wd ? wd : "/");
        if (s->cwd[0] != '/')
            r = crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                             "CreateContainer: working_dir \"%s\" must be an absolute path",
                             s->cwd);
        s->tty = cfg->tty;
        s->stdin = cfg->stdin;
        s->stdin_once = cfg->stdin_once;
        s->log_path = *c->log_path ? crisp_xstrdup(c->log_path) : NULL;
    }
    crisp_image_defaults_free(&img);
    if (r < 0)
        crisp_monitor_spec_free(s); /* nothing half-built is handed back */
    return r;
}
