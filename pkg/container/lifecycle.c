#define _GNU_SOURCE
#include "container/lifecycle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/ctr_cgroup.h"
#include "container/ctr_scope.h"
#include "container/ctr_spec.h"
#include "container/image_config.h"
#include "container/init_signal.h"
#include "events/events.h"
#include "image/blobstore.h"
#include "monitor/client.h"
#include "monitor/spawn.h"
#include "util/deadline.h"
#include "util/ids.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/wait_file.h"

#define MONITOR_TIMEOUT_MS 30000
/* How often a stop re-checks whether a dropped stop signal can be sent again. */
#define RESEND_CHECK_MS 50

static bool wait_exited(struct crisp_ctr *c, int timeout_ms);

static char *log_path_of(const Runtime__V1__ContainerConfig *cfg,
                         const Runtime__V1__PodSandboxConfig *pod_cfg)
{
    const char *dir = pod_cfg && pod_cfg->log_directory ? pod_cfg->log_directory : "";
    if (!*cfg->log_path || !*dir)
        return crisp_xstrdup("");
    return crisp_xasprintf("%s/%s", dir, cfg->log_path);
}

static int signal_by_name(const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } table[] = {{"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},     {"SIGQUIT", SIGQUIT},
                 {"SIGKILL", SIGKILL}, {"SIGHUP", SIGHUP},     {"SIGUSR1", SIGUSR1},
                 {"SIGUSR2", SIGUSR2}, {"SIGWINCH", SIGWINCH}, {"SIGSTOP", SIGSTOP}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(name, table[i].name) == 0 || strcmp(name, table[i].name + 3) == 0)
            return table[i].sig;
    int n = atoi(name);
    return n > 0 && n < 65 ? n : SIGTERM;
}

static int stop_signal_of(const struct crisp_ctr_env *env, const struct crisp_ctr *c)
{
    if (c->config->stop_signal != RUNTIME__V1__SIGNAL__RUNTIME_DEFAULT) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &runtime__v1__signal__descriptor, c->config->stop_signal);
        if (v)
            return signal_by_name(v->name);
    }
    struct crisp_image_defaults img;
    struct crisp_err ignored;
    int sig = SIGTERM;
    if (crisp_image_defaults_load(env->images, c->image_id, &img, &ignored) == 0) {
        if (*img.stop_signal)
            sig = signal_by_name(img.stop_signal);
        crisp_image_defaults_free(&img);
    }
    return sig;
}

static int find_image(const struct crisp_ctr_env *env, const Runtime__V1__ContainerConfig *cfg,
                      struct crisp_image *image, struct crisp_err *err)
{
    const char *ref = cfg->image && cfg->image->image ? cfg->image->image : "";
    if (!*ref)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: config.image.image is required");
    int r = crisp_image_store_find(env->images, ref, image, err);
    if (r == -ENOENT)
        return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT,
                            "CreateContainer: image \"%s\" is not present: pull it first", ref);
    return r;
}

static int validate(const Runtime__V1__ContainerConfig *cfg, struct crisp_err *err)
{
    if (!cfg || !cfg->metadata || !*cfg->metadata->name)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: config.metadata.name is required");
    if (strchr(cfg->log_path, '/') == cfg->log_path || strstr(cfg->log_path, ".."))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "CreateContainer: log_path \"%s\" must be relative to the pod's "
                            "log_directory, without \"..\"",
                            cfg->log_path);
    return 0;
}

static int make_rw_dirs(const struct crisp_ctr *c, struct crisp_err *err)
{
    static const char *const sub[] = {"upper", "work", "rootfs"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_free_ char *d = crisp_xasprintf("%s/%s", c->rw_dir, sub[i]);
        int r = crisp_mkdir_p(d, 0711, err);
        if (r < 0)
            return r;
    }
    return crisp_mkdir_p(c->dir, 0700, err);
}

static int own_oom_score_adj(void)
{
    _cleanup_free_ char *text = NULL;
    struct crisp_err ignored;
    if (crisp_read_file("/proc/self/oom_score_adj", 64, &text, NULL, &ignored) < 0)
        return 0;
    return atoi(text);
}

/* Always set, so a container never inherits crispd's own (often -999) score.
 * Lowering below crispd's needs CAP_SYS_RESOURCE; oom_score_adj_clamp turns
 * that into a warning and crispd's value instead of a failed create. */
static void set_oom_score_adj(const struct crisp_ctr_env *env, const struct crisp_ctr *c,
                              const Runtime__V1__LinuxContainerResources *res,
                              struct crisp_monitor_spec *spec)
{
    int want = res ? (int)res->oom_score_adj : 0;
    int own = own_oom_score_adj();
    if (want < own && env->cfg->oom_score_adj_clamp) {
        log_warn("container",
                 "%s: oom_score_adj %d is below crispd's %d, which this host does "
                 "not allow lowering; using %d (oom_score_adj_clamp)",
                 c->id, want, own, own);
        want = own;
    }
    spec->set_oom_score_adj = true;
    spec->oom_score_adj = want;
}

/* Everything but the monitor: dirs, cgroup, spec.json, records. */
static int prepare(const struct crisp_ctr_env *env, struct crisp_ctr *c,
                   const struct crisp_pod *pod, const Runtime__V1__PodSandboxConfig *pod_cfg,
                   struct crisp_err *err)
{
    struct crisp_image image = {0};
    int r = find_image(env, c->config, &image, err);
    if (r < 0)
        return r;
    c->image_id = crisp_xstrdup(image.id);
    c->image_ref = crisp_xstrdup(c->config->image->image);
    c->log_path = log_path_of(c->config, pod_cfg);
    c->cgroup = crisp_xstrdup("");
    c->message = crisp_xstrdup("");
    c->created_at = crisp_now_ns();
    struct crisp_monitor_spec spec;
    r = make_rw_dirs(c, err);
    if (r == 0)
        r = crisp_ctr_build_spec(env, c, pod, &image, &spec, err);
    crisp_image_free(&image);
    if (r < 0)
        return r;
    const Runtime__V1__LinuxContainerResources *res =
        c->config->linux ? c->config->linux->resources : NULL;
    if (env->cgroups) {
        free(c->cgroup);
        c->cgroup = NULL;
        const char *parent = pod->config->linux ? pod->config->linux->cgroup_parent : "";
        if (env->cfg->cgroup_driver == CRISP_CGROUP_DRIVER_SYSTEMD)
            r = crisp_ctr_scope_setup(env->cgroups, env->monitor_path, parent ? parent : "", c->id,
                                      res, &spec, &c->cgroup, &c->scope_holder, err);
        else
            r = crisp_ctr_cgroup_setup(env->cgroups, parent ? parent : "", c->id, res, &spec,
                                       &c->cgroup, err);
        if (r < 0)
            c->cgroup = crisp_xstrdup("");
    }
    if (r == 0)
        set_oom_score_adj(env, c, res, &spec);
    c->stop_signal = stop_signal_of(env, c);
    c->uid = spec.uid;
    c->gid = spec.gid;
    c->groups = crisp_xcalloc(spec.n_groups + 1, sizeof(gid_t));
    if (spec.n_groups)
        memcpy(c->groups, spec.groups, spec.n_groups * sizeof(gid_t));
    c->n_groups = spec.n_groups;
    _cleanup_free_ char *spec_path = crisp_xasprintf("%s/spec.json", c->dir);
    if (r == 0)
        r = crisp_monitor_spec_write(spec_path, &spec, err);
    crisp_monitor_spec_free(&spec);
    if (r == 0)
        r = crisp_ctr_save_config(c, err);
    if (r == 0)
        r = crisp_ctr_save(c, err);
    return r;
}

static void discard(const struct crisp_ctr_env *env, struct crisp_ctr *c)
{
    struct crisp_err err;
    if (c->cgroup && crisp_ctr_cgroup_remove(env->cgroups, c->cgroup, &err) < 0)
        log_warn("container", "%s: %s", c->id, err.msg);
    crisp_remove_tree(c->dir);
    crisp_remove_tree(c->rw_dir);
}

int crisp_ctr_create(const struct crisp_ctr_env *env, const char *pod_id,
                     const Runtime__V1__ContainerConfig *config,
                     const Runtime__V1__PodSandboxConfig *sandbox_config,
                     char id_out[CRISP_CTR_ID_LEN + 1], struct crisp_err *err)
{
    int r = validate(config, err);
    struct crisp_pod *pod = NULL;
    if (r == 0)
        r = crisp_pod_store_get(env->pods, pod_id, &pod, err);
    if (r == 0 && crisp_pod_state(pod) != CRISP_POD_READY)
        r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                         "CreateContainer: pod sandbox %s is not ready", pod->id);
    struct crisp_ctr *c = NULL;
    if (r == 0)
        r = crisp_ctr_reserve(env->ctrs, pod->id, config, &c, err);
    if (r == 0)
        r = prepare(env, c, pod, sandbox_config ? sandbox_config : pod->config, err);
    pid_t pid = 0;
    if (r == 0) {
        _cleanup_free_ char *dir = crisp_xstrdup(c->dir);
        r = crisp_monitor_spawn(env->monitor_path, dir, &pid, err);
    }
    if (c) { /* the container has joined its scope (or failed): the placeholder goes */
        crisp_ctr_scope_release_holder(c->scope_holder);
        c->scope_holder = 0;
    }
    if (r == 0) {
        pthread_mutex_lock(&c->lock);
        c->pid = pid;
        c->state = CRISP_CTR_CREATED;
        r = crisp_ctr_save(c, err);
        pthread_mutex_unlock(&c->lock);
    }
    if (r == 0) {
        memcpy(id_out, c->id, CRISP_CTR_ID_LEN + 1);
        log_info("container", "%s: created in pod %.12s (%s)", c->id, pod->id,
                 config->metadata->name);
        crisp_event_emit(CRISP_EVENT_CREATED, c->id, c->pod_id);
    } else if (c) { /* undo, and free the name for a retry */
        if (pid > 0) {
            char reply[64];
            struct crisp_err ignored;
            crisp_monitor_request(c->dir, "kill 9", reply, sizeof(reply), 2000, &ignored);
            wait_exited(c, 5000); /* the monitor writes there until it exits */
        }
        discard(env, c);
        crisp_ctr_unlist(env->ctrs, c);
    }
    if (c)
        crisp_ctr_put(env->ctrs, c);
    if (pod)
        crisp_pod_put(env->pods, pod);
    return r;
}

/* Sends one command to the container's monitor; an "error <code> <msg>"
 * reply becomes err. */
/* ok_value: where a number after "ok" goes (left alone when there is none), or NULL. */
static int monitor_command_value(const struct crisp_ctr *c, const char *cmd, int timeout_ms,
                                 int64_t *ok_value, struct crisp_err *err)
{
    char reply[1024];
    int r = crisp_monitor_request(c->dir, cmd, reply, sizeof(reply), timeout_ms, err);
    if (r < 0)
        return r;
    if (strncmp(reply, "ok", 2) == 0) {
        long long v;
        if (ok_value && sscanf(reply + 2, " %lld", &v) == 1)
            *ok_value = v;
        return 0;
    }
    int code = GRPC_STATUS_INTERNAL, used = 0;
    if (sscanf(reply, "error %d %n", &code, &used) >= 1 && used > 0)
        return crisp_errorf(err, (grpc_status_code)code, EIO, "%s", reply + used);
    return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "monitor of %.12s answered \"%s\"", c->id,
                        reply);
}

static int monitor_command(const struct crisp_ctr *c, const char *cmd, int timeout_ms,
                           struct crisp_err *err)
{
    return monitor_command_value(c, cmd, timeout_ms, NULL, err);
}

int crisp_ctr_start(const struct crisp_ctr_env *env, const char *id, struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(env->ctrs, id, &c, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->lock);
    crisp_ctr_refresh_locked(c);
    if (c->state != CRISP_CTR_CREATED)
        r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                         "StartContainer: container %s is %s, expected created", c->id,
                         c->state == CRISP_CTR_RUNNING ? "already running" : "exited");
    /* The monitor's start time: it precedes the finish time the monitor records, even for a
     * container that exits at once. */
    int64_t started_at = 0;
    if (r == 0)
        r = monitor_command_value(c, "start", MONITOR_TIMEOUT_MS, &started_at, err);
    if (r == 0) {
        c->state = CRISP_CTR_RUNNING;
        c->started_at = started_at ? started_at : crisp_now_ns();
        crisp_event_emit(CRISP_EVENT_STARTED, c->id, c->pod_id);
    } else if (c->state == CRISP_CTR_CREATED) { /* a failed start leaves it exited */
        crisp_event_emit(CRISP_EVENT_STOPPED, c->id, c->pod_id);
        free(c->message);
        c->message = crisp_xstrdup(err->msg);
        c->state = CRISP_CTR_EXITED;
        c->exit_code = 128;
        c->finished_at = crisp_now_ns();
    }
    struct crisp_err save_err;
    if (crisp_ctr_save(c, &save_err) < 0)
        log_warn("container", "%s: %s", c->id, save_err.msg);
    pthread_mutex_unlock(&c->lock);
    if (r == 0)
        log_info("container", "%s: started", c->id);
    crisp_ctr_put(env->ctrs, c);
    return r;
}

/* Waits until the monitor has recorded the exit, up to timeout_ms. */
static bool wait_exited(struct crisp_ctr *c, int timeout_ms)
{
    return crisp_wait_for_file(c->dir, "exit.json", timeout_ms);
}

static int send_signal(struct crisp_ctr *c, int sig, struct crisp_err *err)
{
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "kill %d", sig);
    return monitor_command(c, cmd, MONITOR_TIMEOUT_MS, err);
}

/* Waits up to grace_ms for the exit after sig. When the container's init dropped sig (no
 * handler yet: stopped right after it started), sig goes again as soon as it has one. */
static bool wait_exited_after(struct crisp_ctr *c, int sig, bool dropped, int grace_ms)
{
    int64_t deadline = crisp_monotonic_ms() + grace_ms;
    while (dropped) {
        int left = crisp_ms_until(deadline);
        if (wait_exited(c, left < RESEND_CHECK_MS ? left : RESEND_CHECK_MS))
            return true;
        if (left <= RESEND_CHECK_MS)
            return false;
        dropped = crisp_init_drops_signal(c->pid, sig);
        struct crisp_err ignored; /* the container may have ended meanwhile */
        if (!dropped && send_signal(c, sig, &ignored) == 0)
            log_info("container",
                     "%s: signal %d sent again: its init had no handler for it "
                     "at first",
                     c->id, sig);
    }
    return wait_exited(c, crisp_ms_until(deadline));
}

/* Signal, grace period, SIGKILL. Caller holds c->lock. */
static int stop_locked(struct crisp_ctr *c, int64_t timeout, struct crisp_err *err)
{
    crisp_ctr_refresh_locked(c);
    if (c->state == CRISP_CTR_EXITED)
        return 0;
    int sig = c->state == CRISP_CTR_RUNNING ? c->stop_signal : SIGKILL;
    bool dropped = crisp_init_drops_signal(c->pid, sig);
    int r = send_signal(c, sig, err);
    int grace = timeout > 0 ? (int)(timeout > 3600 ? 3600000 : timeout * 1000) : 0;
    if (r == 0 && !wait_exited_after(c, sig, dropped, grace)) {
        r = send_signal(c, SIGKILL, err);
        if (r == 0 && !wait_exited(c, 10000))
            r = crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                             "container %s did not exit 10s after SIGKILL", c->id);
    }
    if (r < 0 && wait_exited(c, 0)) /* the monitor left as the container ended */
        r = 0, crisp_err_clear(err);
    crisp_ctr_refresh_locked(c);
    return r;
}

int crisp_ctr_stop(const struct crisp_ctr_env *env, const char *id, int64_t timeout,
                   struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(env->ctrs, id, &c, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->lock);
    r = stop_locked(c, timeout, err);
    pthread_mutex_unlock(&c->lock);
    struct crisp_err leftover_err;
    if (r == 0 && crisp_ctr_cgroup_kill_leftovers(env->cgroups, c->cgroup, &leftover_err) < 0)
        log_warn("container", "%s: %s", c->id, leftover_err.msg);
    if (r == 0)
        log_info("container", "%s: stopped", c->id);
    crisp_ctr_put(env->ctrs, c);
    return r;
}

int crisp_ctr_remove(const struct crisp_ctr_env *env, const char *id, struct crisp_err *err)
{
    struct crisp_ctr *c;
    if (crisp_ctr_store_get(env->ctrs, id, &c, err) < 0) {
        crisp_err_clear(err);
        return 0; /* removing what does not exist is done */
    }
    pthread_mutex_lock(&c->lock);
    int r = stop_locked(c, 0, err);
    pthread_mutex_unlock(&c->lock);
    if (r == 0) {
        crisp_ctr_unlist(env->ctrs, c);
        discard(env, c);
        log_info("container", "%s: removed", c->id);
        crisp_event_emit(CRISP_EVENT_DELETED, c->id, c->pod_id);
    }
    crisp_ctr_put(env->ctrs, c);
    return r;
}

int crisp_ctr_reopen_log(const struct crisp_ctr_env *env, const char *id, struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_get_running(env->ctrs, id, "ReopenContainerLog", &c, err);
    if (r < 0)
        return r;
    r = monitor_command(c, "reopen", MONITOR_TIMEOUT_MS, err);
    crisp_ctr_unlock_put(env->ctrs, c);
    return r;
}
