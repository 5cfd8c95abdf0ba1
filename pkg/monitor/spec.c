#define _GNU_SOURCE
#include "spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/capabilities.h"
#include "monitor/spec_security.h"
#include "runtime/seccomp.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

#define N_RLIMIT_NAMES (sizeof(rlimit_names) / sizeof(rlimit_names[0]))

static const char *const propagation_names[] = {
    [CRISP_PROP_PRIVATE] = "private",
    [CRISP_PROP_RSLAVE] = "rslave",
    [CRISP_PROP_RSHARED] = "rshared",
};

/* ---- free ---- */

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void crisp_monitor_spec_free(struct crisp_monitor_spec *s)
{
    if (!s)
        return;
    free(s->container_id);
    free_strv(s->lowerdirs, s->n_lowerdirs);
    free(s->upperdir);
    free(s->workdir);
    free(s->rootfs);
    free(s->netns);
    free(s->ipcns);
    free(s->utsns);
    free(s->pidns);
    free(s->hostname);
    free_strv(s->cgroup_procs_files, s->n_cgroup_procs_files);
    for (size_t i = 0; s->mounts && i < s->n_mounts; i++) {
        free((char *)s->mounts[i].source);
        free((char *)s->mounts[i].destination);
    }
    free(s->mounts);
    free_strv(s->masked_paths, s->n_masked_paths);
    free_strv(s->readonly_paths, s->n_readonly_paths);
    free_strv(s->argv, strv_len(s->argv));
    free_strv(s->env, strv_len(s->env));
    free(s->cwd);
    free(s->groups);
    free(s->rlimits);
    free(s->caps);
    free((char *)s->seccomp.profile_json);
    crisp_monitor_spec_security_free(s);
    free(s->log_path);
    free(s->oom_file);
    free(s->oom_key);
    memset(s, 0, sizeof(*s));
}

/* ---- write ---- */

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_int_t rlim_json(rlim_t v)
{
    return v == RLIM_INFINITY ? -1 : (json_int_t)v;
}

static const char *rlimit_name(int resource)
{
    for (size_t i = 0; i < N_RLIMIT_NAMES; i++)
        if (rlimit_names[i].resource == resource)
            return rlimit_names[i].name;
    return NULL;
}

static json_t *mounts_json(const struct crisp_monitor_spec *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct crisp_bind_mount *m = &s->mounts[i];
        json_t *o = json_object();
        set_str(o, "source", m->source);
        set_str(o, "destination", m->destination);
        json_object_set_new(o, "readonly", json_boolean(m->readonly));
        json_object_set_new(o, "propagation", json_string(propagation_names[m->propagation]));
        json_array_append_new(a, o);
    }
    return a;
}

static int process_json(const struct crisp_monitor_spec *s, json_t **out, struct crisp_err *err)
{
    _cleanup_json_ json_t *p = json_object();
    json_object_set_new(p, "argv", strv_json(s->argv, strv_len(s->argv)));
    if (s->env)
        json_object_set_new(p, "env", strv_json(s->env, strv_len(s->env)));
    set_str(p, "cwd", s->cwd);
    json_object_set_new(p, "uid", json_integer(s->uid));
    json_object_set_new(p, "gid", json_integer(s->gid));
    json_t *groups = json_array();
    json_object_set_new(p, "groups", groups);
    for (size_t i = 0; i < s->n_groups; i++)
        json_array_append_new(groups, json_integer(s->groups[i]));
    json_t *rl = json_array();
    json_object_set_new(p, "rlimits", rl);
    for (size_t i = 0; i < s->n_rlimits; i++) {
        const char *name = rlimit_name(s->rlimits[i].resource);
        if (!name)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "monitor spec: unknown rlimit resource %d", s->rlimits[i].resource);
        json_array_append_new(rl, json_pack("{s:s, s:I, s:I}", "type", name, "soft",
                                            rlim_json(s->rlimits[i].soft), "hard",
                                            rlim_json(s->rlimits[i].hard)));
    }
    if (s->set_oom_score_adj)
        json_object_set_new(p, "oom_score_adj", json_integer(s->oom_score_adj));
    json_object_set_new(p, "tty", json_boolean(s->tty));
    json_object_set_new(p, "stdin", json_boolean(s->stdin));
    json_object_set_new(p, "stdin_once", json_boolean(s->stdin_once));
    if (s->caps_set) {
        json_t *caps = json_array();
        json_object_set_new(p, "caps", caps);
        for (size_t i = 0; i < s->n_caps; i++) {
            char name[CRISP_CAP_NAME_MAX];
            if (!crisp_cap_name(s->caps[i], name, sizeof(name)))
                return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                    "monitor spec: unknown capability %d", s->caps[i]);
            json_array_append_new(caps, json_string(name));
        }
    }
    json_object_set_new(p, "no_new_privs", json_boolean(s->no_new_privs));
    if (s->seccomp_set) {
        json_t *sc = NULL;
        if (s->seccomp.kind == CRISP_SECCOMP_RUNTIME_DEFAULT && !s->seccomp.profile_json)
            sc = json_pack("{s:s}", "kind", "runtime_default");
        else if (s->seccomp.kind == CRISP_SECCOMP_PROFILE && s->seccomp.profile_json)
            sc = json_pack("{s:s, s:s}", "kind", "profile", "profile", s->seccomp.profile_json);
        if (!sc) /* json_pack also fails on a profile that is not valid UTF-8 */
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "monitor spec: bad seccomp (kind %d, profile %s)",
                                (int)s->seccomp.kind,
                                s->seccomp.profile_json ? "given" : "missing");
        json_object_set_new(p, "seccomp", sc);
    }
    *out = crisp_steal_ptr(p);
    return 0;
}

static int spec_json(const struct crisp_monitor_spec *s, json_t **out, struct crisp_err *err)
{
    _cleanup_json_ json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(CRISP_MONITOR_SPEC_VERSION));
    set_str(o, "container_id", s->container_id);
    json_object_set_new(o, "lowerdirs", strv_json(s->lowerdirs, s->n_lowerdirs));
    set_str(o, "upperdir", s->upperdir);
    set_str(o, "workdir", s->workdir);
    set_str(o, "rootfs", s->rootfs);
    json_object_set_new(o, "readonly_rootfs", json_boolean(s->readonly_rootfs));
    set_str(o, "netns", s->netns);
    set_str(o, "ipcns", s->ipcns);
    set_str(o, "utsns", s->utsns);
    set_str(o, "pidns", s->pidns);
    json_object_set_new(o, "host_net", json_boolean(s->host_net));
    json_object_set_new(o, "host_ipc", json_boolean(s->host_ipc));
    json_object_set_new(o, "host_uts", json_boolean(s->host_uts));
    json_object_set_new(o, "host_pid", json_boolean(s->host_pid));
    set_str(o, "hostname", s->hostname);
    json_object_set_new(o, "cgroup_procs_files",
                        strv_json(s->cgroup_procs_files, s->n_cgroup_procs_files));
    json_object_set_new(o, "mounts", mounts_json(s));
    json_object_set_new(o, "masked_paths", strv_json(s->masked_paths, s->n_masked_paths));
    json_object_set_new(o, "readonly_paths", strv_json(s->readonly_paths, s->n_readonly_paths));
    json_t *p = NULL;
    int r = process_json(s, &p, err);
    if (r < 0)
        return r;
    json_object_set_new(o, "process", p);
    crisp_monitor_spec_security_json(s, o);
    set_str(o, "log_path", s->log_path);
    set_str(o, "oom_file", s->oom_file);
    set_str(o, "oom_key", s->oom_key);
    *out = crisp_steal_ptr(o);
    return 0;
}

int crisp_monitor_spec_write(const char *path, const struct crisp_monitor_spec *s,
                             struct crisp_err *err)
{
    for (size_t i = 0; i < s->n_mounts; i++)
        if ((unsigned)s->mounts[i].propagation > CRISP_PROP_RSHARED)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "monitor spec: mount %zu: bad propagation", i);
    _cleanup_json_ json_t *o = NULL;
    int r = spec_json(s, &o, err);
    if (r < 0)
        return r;
    /* json_dumps fails only on allocation failure or invalid UTF-8 in a string. */
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    if (!text)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "monitor spec: cannot encode (a string is not valid UTF-8?)");
    return crisp_write_file_atomic(path, text, strlen(text), 0600, err);
}

/* ---- read ---- */

struct reader {
    const char *path;
    struct crisp_err *err;
};

static int bad(const struct reader *rd, const char *field, const char *what)
{
    return crisp_errorf(rd->err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "monitor spec %s: \"%s\": %s", rd->path, field, what);
}

/* A string or nothing: absent, null and "" give NULL. */
static int get_str(const struct reader *rd, json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(rd, key, "expected a string");
    if (json_string_length(v) > 0)
        *out = crisp_xstrdup(json_string_value(v));
    return 0;
}

static int get_path(const struct reader *rd, json_t *o, const char *key, char **out)
{
    int r = get_str(rd, o, key, out);
    if (r == 0 && *out && (*out)[0] != '/')
        return bad(rd, key, "expected an absolute path");
    return r;
}

static int get_bool(const struct reader *rd, json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    *out = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bad(rd, key, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

static int int_in(const struct reader *rd, json_t *v, const char *key, json_int_t min,
                  json_int_t max, json_int_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char what[96];
        snprintf(what, sizeof(what), "expected an integer in %lld..%lld", (long long)min,
                 (long long)max);
        return bad(rd, key, what);
    }
    *out = json_integer_value(v);
    return 0;
}

/* An array of non-empty strings; absent or null = none. terminate: one more NULL slot. */
static int get_strv(const struct reader *rd, json_t *o, const char *key, bool terminate,
                    char ***out, size_t *n_out)
{
    json_t *a = json_object_get(o, key);
    *out = NULL;
    if (n_out)
        *n_out = 0;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(rd, key, "expected an array of strings");
    size_t n = json_array_size(a);
    char **v = crisp_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            free_strv(v, i);
            return bad(rd, key, "expected an array of non-empty strings");
        }
        v[i] = crisp_xstrdup(json_string_value(e));
    }
    if (!terminate && n == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    if (n_out)
        *n_out = n;
    return 0;
}

static int get_paths(const struct reader *rd, json_t *o, const char *key, char ***out,
                     size_t *n_out)
{
    int r = get_strv(rd, o, key, false, out, n_out);
    for (size_t i = 0; r == 0 && i < *n_out; i++)
        if ((*out)[i][0] != '/')
            r = bad(rd, key, "expected absolute paths");
    return r;
}

static int read_mount(const struct reader *rd, json_t *m, struct crisp_bind_mount *out)
{
    if (!json_is_object(m))
        return bad(rd, "mounts", "expected objects");
    char *source = NULL, *destination = NULL, *prop = NULL;
    int r = get_str(rd, m, "source", &source);
    if (r == 0)
        r = get_path(rd, m, "destination", &destination);
    if (r == 0)
        r = get_str(rd, m, "propagation", &prop);
    out->source = source;
    out->destination = destination;
    if (r == 0 && (!source || !destination))
        r = bad(rd, "mounts", "a mount needs a source and a destination");
    if (r == 0)
        r = get_bool(rd, m, "readonly", &out->readonly);
    out->propagation = CRISP_PROP_PRIVATE;
    if (r == 0 && prop) {
        size_t i = 0;
        while (i <= CRISP_PROP_RSHARED && strcmp(prop, propagation_names[i]) != 0)
            i++;
        if (i > CRISP_PROP_RSHARED)
            r = bad(rd, "mounts", "propagation is not private, rslave or rshared");
        else
            out->propagation = (enum crisp_mount_propagation)i;
    }
    free(prop);
    return r;
}

static int read_mounts(const struct reader *rd, json_t *o, struct crisp_monitor_spec *s)
{
    json_t *a = json_object_get(o, "mounts");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(rd, "mounts", "expected an array");
    size_t n = json_array_size(a);
    if (n == 0)
        return 0;
    s->mounts = crisp_xcalloc(n, sizeof(*s->mounts));
    for (size_t i = 0; i < n; i++) {
        s->n_mounts = i + 1; /* so that free sees what this one allocated */
        int r = read_mount(rd, json_array_get(a, i), &s->mounts[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int rlimit_value(const struct reader *rd, json_t *v, rlim_t *out)
{
    json_int_t x;
    int r = int_in(rd, v, "process.rlimits", -1, INT64_MAX, &x);
    if (r == 0)
        *out = x < 0 ? RLIM_INFINITY : (rlim_t)x;
    return r;
}

static int read_rlimit(const struct reader *rd, json_t *e, struct crisp_rlimit *out)
{
    json_t *type = json_object_get(e, "type");
    if (!json_is_string(type))
        return bad(rd, "process.rlimits", "expected {\"type\", \"soft\", \"hard\"}");
    size_t i = 0;
    while (i < N_RLIMIT_NAMES && strcmp(rlimit_names[i].name, json_string_value(type)) != 0)
        i++;
    if (i == N_RLIMIT_NAMES)
        return bad(rd, "process.rlimits", "unknown type");
    out->resource = rlimit_names[i].resource;
    int r = rlimit_value(rd, json_object_get(e, "soft"), &out->soft);
    if (r == 0)
        r = rlimit_value(rd, json_object_get(e, "hard"), &out->hard);
    return r;
}

static int read_rlimits(const struct reader *rd, json_t *p, struct crisp_monitor_spec *s)
{
    json_t *a = json_object_get(p, "rlimits");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(rd, "process.rlimits", "expected an array");
    if (json_array_size(a) == 0)
        return 0;
    s->rlimits = crisp_xcalloc(json_array_size(a), sizeof(*s->rlimits));
    s->n_rlimits = json_array_size(a);
    for (size_t i = 0; i < s->n_rlimits; i++) {
        int r = read_rlimit(rd, json_array_get(a, i), &s->rlimits[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int read_ids(const struct reader *rd, json_t *p, struct crisp_monitor_spec *s)
{
    json_int_t x;
    json_t *v = json_object_get(p, "uid");
    int r = v ? int_in(rd, v, "process.uid", 0, UINT32_MAX - 1, &x) : 0;
    if (r < 0)
        return r;
    s->uid = v ? (uid_t)x : 0;
    v = json_object_get(p, "gid");
    r = v ? int_in(rd, v, "process.gid", 0, UINT32_MAX - 1, &x) : 0;
    if (r < 0)
        return r;
    s->gid = v ? (gid_t)x : 0;
    json_t *a = json_object_get(p, "groups");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(rd, "process.groups", "expected an array");
    if (json_array_size(a) == 0)
        return 0;
    s->groups = crisp_xcalloc(json_array_size(a), sizeof(*s->groups));
    for (size_t i = 0; i < json_array_size(a); i++) {
        r = int_in(rd, json_array_get(a, i), "process.groups", 0, UINT32_MAX - 1, &x);
        if (r < 0)
            return r;
        s->groups[s->n_groups++] = (gid_t)x;
    }
    return 0;
}

/* Capability names; absent or null = not set, [] = none. */
static int read_caps(const struct reader *rd, json_t *p, struct crisp_monitor_spec *s)
{
    json_t *a = json_object_get(p, "caps");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(rd, "process.caps", "expected an array of capability names");
    s->caps_set = true;
    size_t n = json_array_size(a);
    if (n == 0)
        return 0;
    s->caps = crisp_xcalloc(n, sizeof(*s->caps));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e))
            return bad(rd, "process.caps", "expected an array of capability names");
        const char *name = json_string_value(e);
        int cap = json_string_length(e) == strlen(name) ? crisp_cap_from_name(name) : -EINVAL;
        if (cap < 0) {
            char what[96];
            snprintf(what, sizeof(what), "unknown capability \"%.48s\"", name);
            return bad(rd, "process.caps", what);
        }
        s->caps[s->n_caps++] = cap;
    }
    return 0;
}

/* {"kind": "runtime_default"} or {"kind": "profile", "profile": "..."}; absent or null =
 * unconfined. The profile is parsed and compiled now, for the capabilities read before it. */
static int read_seccomp(const struct reader *rd, json_t *p, struct crisp_monitor_spec *s)
{
    json_t *o = json_object_get(p, "seccomp");
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return bad(rd, "process.seccomp", "expected an object");
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *profile = json_object_get(o, "profile");
    bool has_profile = profile && !json_is_null(profile);
    if (kind && strcmp(kind, "runtime_default") == 0) {
        if (has_profile)
            return bad(rd, "process.seccomp.profile", "not allowed with runtime_default");
        s->seccomp = (struct crisp_seccomp){.kind = CRISP_SECCOMP_RUNTIME_DEFAULT};
    } else if (kind && strcmp(kind, "profile") == 0) {
        if (!json_is_string(profile) || json_string_length(profile) == 0 ||
            strlen(json_string_value(profile)) != json_string_length(profile))
            return bad(rd, "process.seccomp.profile", "expected the profile's JSON text");
        s->seccomp =
            (struct crisp_seccomp){.kind = CRISP_SECCOMP_PROFILE,
                                   .profile_json = crisp_xstrdup(json_string_value(profile))};
    } else {
        return bad(rd, "process.seccomp.kind", "expected \"runtime_default\" or \"profile\"");
    }
    s->seccomp_set = true;
    const struct crisp_process proc = {
        .uid = s->uid, .caps = s->caps, .n_caps = s->n_caps, .caps_set = s->caps_set};
    int r = crisp_seccomp_validate(&s->seccomp, &proc, rd->err);
    if (r < 0)
        crisp_err_prefix(rd->err, "monitor spec %s: \"process.seccomp\"", rd->path);
    return r;
}

static int read_process(const struct reader *rd, json_t *o, struct crisp_monitor_spec *s)
{
    json_t *p = json_object_get(o, "process");
    if (!json_is_object(p))
        return bad(rd, "process", "expected an object");
    size_t n;
    int r = get_strv(rd, p, "argv", true, &s->argv, &n);
    if (r == 0 && n == 0)
        r = bad(rd, "process.argv", "must not be empty");
    if (r == 0)
        r = get_strv(rd, p, "env", true, &s->env, NULL);
    if (r == 0)
        r = get_path(rd, p, "cwd", &s->cwd);
    if (r == 0)
        r = read_ids(rd, p, s);
    if (r == 0)
        r = read_rlimits(rd, p, s);
    json_t *adj = json_object_get(p, "oom_score_adj");
    if (r == 0 && adj && !json_is_null(adj)) {
        json_int_t x;
        r = int_in(rd, adj, "process.oom_score_adj", -1000, 1000, &x);
        s->set_oom_score_adj = true;
        s->oom_score_adj = (int)x;
    }
    if (r == 0)
        r = get_bool(rd, p, "tty", &s->tty);
    if (r == 0)
        r = get_bool(rd, p, "stdin", &s->stdin);
    if (r == 0)
        r = get_bool(rd, p, "stdin_once", &s->stdin_once);
    if (r == 0)
        r = read_caps(rd, p, s);
    if (r == 0)
        r = get_bool(rd, p, "no_new_privs", &s->no_new_privs);
    if (r == 0)
        r = read_seccomp(rd, p, s); /* after the caps: they decide the gated groups */
    return r;
}

static int read_namespaces(const struct reader *rd, json_t *o, struct crisp_monitor_spec *s)
{
    int r = get_path(rd, o, "netns", &s->netns);
    if (r == 0)
        r = get_path(rd, o, "ipcns", &s->ipcns);
    if (r == 0)
        r = get_path(rd, o, "utsns", &s->utsns);
    if (r == 0)
        r = get_path(rd, o, "pidns", &s->pidns);
    if (r == 0)
        r = get_bool(rd, o, "host_net", &s->host_net);
    if (r == 0)
        r = get_bool(rd, o, "host_ipc", &s->host_ipc);
    if (r == 0)
        r = get_bool(rd, o, "host_uts", &s->host_uts);
    if (r == 0)
        r = get_bool(rd, o, "host_pid", &s->host_pid);
    if (r == 0)
        r = get_str(rd, o, "hostname", &s->hostname);
    return r;
}

static int read_rootfs(const struct reader *rd, json_t *o, struct crisp_monitor_spec *s)
{
    int r = get_paths(rd, o, "lowerdirs", &s->lowerdirs, &s->n_lowerdirs);
    if (r == 0)
        r = get_path(rd, o, "upperdir", &s->upperdir);
    if (r == 0)
        r = get_path(rd, o, "workdir", &s->workdir);
    if (r == 0)
        r = get_path(rd, o, "rootfs", &s->rootfs);
    if (r == 0 && !s->rootfs)
        r = bad(rd, "rootfs", "is required");
    if (r == 0)
        r = get_bool(rd, o, "readonly_rootfs", &s->readonly_rootfs);
    return r;
}

static int read_monitor_fields(const struct reader *rd, json_t *o, struct crisp_monitor_spec *s)
{
    int r = get_str(rd, o, "container_id", &s->container_id);
    if (r == 0)
        r = get_path(rd, o, "log_path", &s->log_path);
    if (r == 0)
        r = get_path(rd, o, "oom_file", &s->oom_file);
    if (r == 0)
        r = get_str(rd, o, "oom_key", &s->oom_key);
    if (r == 0 && !s->oom_file != !s->oom_key)
        r = bad(rd, "oom_file", "oom_file and oom_key go together");
    return r;
}

static int read_spec(const struct reader *rd, json_t *o, struct crisp_monitor_spec *s)
{
    if (!json_is_object(o))
        return bad(rd, "/", "expected an object");
    json_int_t version;
    int r = int_in(rd, json_object_get(o, "version"), "version", 1, CRISP_MONITOR_SPEC_VERSION,
                   &version);
    if (r == 0)
        r = read_monitor_fields(rd, o, s);
    if (r == 0)
        r = read_rootfs(rd, o, s);
    if (r == 0)
        r = read_namespaces(rd, o, s);
    if (r == 0)
        r = get_paths(rd, o, "cgroup_procs_files", &s->cgroup_procs_files,
                      &s->n_cgroup_procs_files);
    if (r == 0)
        r = read_mounts(rd, o, s);
    if (r == 0)
        r = get_paths(rd, o, "masked_paths", &s->masked_paths, &s->n_masked_paths);
    if (r == 0)
        r = get_paths(rd, o, "readonly_paths", &s->readonly_paths, &s->n_readonly_paths);
    if (r == 0)
        r = read_process(rd, o, s);
    if (r == 0)
        r = crisp_monitor_spec_security_read(o, s, rd->path, rd->err);
    return r;
}

int crisp_monitor_spec_read(const char *path, struct crisp_monitor_spec *s, struct crisp_err *err)
{
    memset(s, 0, sizeof(*s));
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = crisp_read_file(path, CRISP_MONITOR_SPEC_MAX, &text, &len, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    _cleanup_json_ json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "monitor spec %s: line %d: %s", path, jerr.line, jerr.text);
    const struct reader rd = {.path = path, .err = err};
    r = read_spec(&rd, o, s);
    if (r < 0)
        crisp_monitor_spec_free(s);
    return r;
}

int crisp_monitor_spec_to_container_spec(const struct crisp_monitor_spec *s,
                                         struct crisp_container_spec *out)
{
    if (!s->argv || !s->argv[0])
        return -EINVAL;
    *out = (struct crisp_container_spec){
        .lowerdirs = (const char *const *)s->lowerdirs,
        .n_lowerdirs = s->n_lowerdirs,
        .upperdir = s->upperdir,
        .workdir = s->workdir,
        .rootfs = s->rootfs,
        .readonly_rootfs = s->readonly_rootfs,
        .netns = s->netns,
        .ipcns = s->ipcns,
        .utsns = s->utsns,
        .pidns = s->pidns,
        .host_net = s->host_net,
        .host_ipc = s->host_ipc,
        .host_uts = s->host_uts,
        .host_pid = s->host_pid,
        .hostname = s->hostname,
        .cgroup_procs_files = (const char *const *)s->cgroup_procs_files,
        .n_cgroup_procs_files = s->n_cgroup_procs_files,
        .mounts = s->mounts,
        .n_mounts = s->n_mounts,
        .masked_paths = (const char *const *)s->masked_paths,
        .n_masked_paths = s->n_masked_paths,
        .readonly_paths = (const char *const *)s->readonly_paths,
        .n_readonly_paths = s->n_readonly_paths,
        .devices = s->devices,
        .n_devices = s->n_devices,
        .host_devices = s->host_devices,
        .sys_writable = s->sys_writable,
        .process =
            {
                .argv = s->argv,
                .env = s->env,
                .cwd = s->cwd,
                .uid = s->uid,
                .gid = s->gid,
                .groups = s->groups,
                .n_groups = s->n_groups,
                .rlimits = s->rlimits,
                .n_rlimits = s->n_rlimits,
                .set_oom_score_adj = s->set_oom_score_adj,
                .oom_score_adj = s->oom_score_adj,
                .stdin_fd = -1,
                .stdout_fd = -1,
                .stderr_fd = -1,
                .tty = s->tty,
                .caps = s->caps,
                .n_caps = s->n_caps,
                .caps_set = s->caps_set,
                .no_new_privs = s->no_new_privs,
                .seccomp = s->seccomp_set ? &s->seccomp : NULL,
                .apparmor_profile = s->apparmor_profile,
            },
    };
    return 0;
}
