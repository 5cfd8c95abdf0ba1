#define _GNU_SOURCE
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "config/address.h"
#include "config/registries.h"
#include "util/mem.h"

enum key_type {
    KEY_PATH,       /* absolute path string */
    KEY_INT,        /* integer within [min, max] */
    KEY_ENUM,       /* one of choices, stored as the index */
    KEY_BOOL,       /* true or false */
    KEY_REGISTRIES, /* object: host -> registry settings (registries.c) */
    KEY_ADDRESS,    /* "host:port" string (address.c), "" = off */
    KEY_PATHS,      /* array of absolute paths; count at count_offset */
};

struct key_spec {
    const char *name;
    enum key_type type;
    size_t offset;
    long long min, max;
    const char *const *choices;
    size_t count_offset; /* KEY_PATHS: where the number of entries goes */
};

static const char *const log_level_choices[] = {"error", "warn", "info", "debug", NULL};
static const char *const cgroup_driver_choices[] = {"cgroupfs", "systemd", NULL};

#define FIELD(f) offsetof(struct crisp_config, f)

/* The schema: every key crispd accepts. Keep docs/config.md in step. */
static const struct key_spec schema[] = {
    {"listen", KEY_PATH, FIELD(listen), 0, 0, NULL, 0},
    {"root", KEY_PATH, FIELD(root), 0, 0, NULL, 0},
    {"state", KEY_PATH, FIELD(state), 0, 0, NULL, 0},
    {"log_level", KEY_ENUM, FIELD(log_level), 0, 0, log_level_choices, 0},
    {"workers", KEY_INT, FIELD(workers), 1, 1024, NULL, 0},
    {"max_recv_message_size", KEY_INT, FIELD(max_recv_message_size), 4096, 1LL << 30, NULL, 0},
    {"shutdown_timeout_seconds", KEY_INT, FIELD(shutdown_timeout_seconds), 0, 3600, NULL, 0},
    {"cgroup_driver", KEY_ENUM, FIELD(cgroup_driver), 0, 0, cgroup_driver_choices, 0},
    {"max_concurrent_downloads", KEY_INT, FIELD(max_concurrent_downloads), 1, 64, NULL, 0},
    {"pull_progress_timeout_seconds", KEY_INT, FIELD(pull_progress_timeout_seconds), 1, 86400, NULL,
     0},
    {"allow_device_nodes", KEY_BOOL, FIELD(allow_device_nodes), 0, 0, NULL, 0},
    {"oom_score_adj_clamp", KEY_BOOL, FIELD(oom_score_adj_clamp), 0, 0, NULL, 0},
    {"registries", KEY_REGISTRIES, FIELD(registries), 0, 0, NULL, 0},
    {"cni_conf_dir", KEY_PATH, FIELD(cni_conf_dir), 0, 0, NULL, 0},
    {"cni_bin_dirs", KEY_PATHS, FIELD(cni_bin_dirs), 0, 0, NULL, FIELD(n_cni_bin_dirs)},
    {"cni_plugin_timeout_seconds", KEY_INT, FIELD(cni_plugin_timeout_seconds), 1, 3600, NULL, 0},
    {"stream_address", KEY_ADDRESS, FIELD(stream_address), 0, 0, NULL, 0},
    {"stream_token_ttl_seconds", KEY_INT, FIELD(stream_token_ttl_seconds), 1, 3600, NULL, 0},
    {"stream_idle_timeout_seconds", KEY_INT, FIELD(stream_idle_timeout_seconds), 0, 86400, NULL, 0},
    {"metrics_address", KEY_ADDRESS, FIELD(metrics_address), 0, 0, NULL, 0},
};

#define SCHEMA_LEN (sizeof(schema) / sizeof(schema[0]))

void crisp_config_init(struct crisp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = crisp_xstrdup("/run/crisp/crisp.sock");
    cfg->root = crisp_xstrdup("/var/lib/crisp");
    cfg->state = crisp_xstrdup("/run/crisp");
    cfg->log_level = CRISP_LOG_INFO;
    cfg->workers = 16;
    cfg->max_recv_message_size = 16LL * 1024 * 1024;
    cfg->shutdown_timeout_seconds = 10;
    cfg->cgroup_driver = CRISP_CGROUP_DRIVER_CGROUPFS;
    cfg->max_concurrent_downloads = 3;
    cfg->pull_progress_timeout_seconds = 60;
    cfg->cni_conf_dir = crisp_xstrdup("/etc/cni/net.d");
    cfg->cni_bin_dirs = crisp_xcalloc(3, sizeof(char *));
    cfg->cni_bin_dirs[0] = crisp_xstrdup("/opt/cni/bin");
    cfg->cni_bin_dirs[1] = crisp_xstrdup("/usr/lib/cni");
    cfg->n_cni_bin_dirs = 2;
    cfg->cni_plugin_timeout_seconds = 60;
    cfg->stream_address = crisp_xstrdup("127.0.0.1:0");
    cfg->stream_token_ttl_seconds = 60;
    cfg->stream_idle_timeout_seconds = 4 * 3600;
    cfg->metrics_address = crisp_xstrdup("");
}

static void free_paths(char **paths)
{
    for (size_t i = 0; paths && paths[i]; i++)
        free(paths[i]);
    free(paths);
}

void crisp_config_free(struct crisp_config *cfg)
{
    for (size_t i = 0; i < SCHEMA_LEN; i++) {
        void *field = (char *)cfg + schema[i].offset;
        if (schema[i].type == KEY_PATH || schema[i].type == KEY_ADDRESS)
            free(*(char **)field);
        else if (schema[i].type == KEY_PATHS)
            free_paths(*(char ***)field);
    }
    crisp_registries_free(cfg);
    memset(cfg, 0, sizeof(*cfg));
}

static const struct key_spec *find_key(const char *name)
{
    for (size_t i = 0; i < SCHEMA_LEN; i++)
        if (strcmp(schema[i].name, name) == 0)
            return &schema[i];
    return NULL;
}

const char *crisp_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown type";
}

static void join_choices(const char *const *choices, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s\"%s\"", i ? ", " : "", choices[i]);
    }
}

static int set_path(char **field, const json_t *value, const char *where, const char *key,
                    struct crisp_err *err)
{
    const char *s = json_is_string(value) ? json_string_value(value) : NULL;
    if (!s)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected an absolute path string, got %s", where, key,
                            crisp_json_type_name(value));
    if (s[0] != '/' || strlen(s) >= PATH_MAX)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected an absolute path (starting with /), got \"%s\"",
                            where, key, s);
    free(*field);
    *field = crisp_xstrdup(s);
    return 0;
}

static int set_int(long long *field, const struct key_spec *spec, const json_t *value,
                   const char *where, struct crisp_err *err)
{
    if (!json_is_integer(value))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected an integer from %lld to %lld, got %s", where,
                            spec->name, spec->min, spec->max, crisp_json_type_name(value));
    long long v = json_integer_value(value);
    if (v < spec->min || v > spec->max)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, ERANGE,
                            "%s: %s: expected an integer from %lld to %lld, got %lld", where,
                            spec->name, spec->min, spec->max, v);
    *field = v;
    return 0;
}

static int set_enum(int *field, const struct key_spec *spec, const json_t *value, const char *where,
                    struct crisp_err *err)
{
    char choices[256];
    join_choices(spec->choices, choices, sizeof(choices));
    const char *s = json_is_string(value) ? json_string_value(value) : NULL;
    for (int i = 0; s && spec->choices[i]; i++) {
        if (strcmp(s, spec->choices[i]) == 0) {
            *field = i;
            return 0;
        }
    }
    if (!s)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected one of %s, got %s", where, spec->name, choices,
                            crisp_json_type_name(value));
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: %s: expected one of %s, got \"%s\"", where, spec->name, choices, s);
}

static int set_bool(bool *field, const struct key_spec *spec, const json_t *value,
                    const char *where, struct crisp_err *err)
{
    if (!json_is_boolean(value))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected true or false, got %s", where, spec->name,
                            crisp_json_type_name(value));
    *field = json_is_true(value);
    return 0;
}

static int set_address(char **field, const struct key_spec *spec, const json_t *value,
                       const char *where, struct crisp_err *err)
{
    const char *s = json_is_string(value) ? json_string_value(value) : NULL;
    if (!s)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected a \"host:port\" string or \"\" (off), got %s", where,
                            spec->name, crisp_json_type_name(value));
    if (*s) {
        _cleanup_free_ char *what = crisp_xasprintf("%s: %s", where, spec->name);
        char host[64];
        int port;
        int r = crisp_address_split(s, host, sizeof(host), &port, what, err);
        if (r < 0)
            return r;
    }
    free(*field);
    *field = crisp_xstrdup(s);
    return 0;
}

/* A JSON array of absolute paths; on the command line, a comma-separated string. */
static int set_paths(struct crisp_config *cfg, const struct key_spec *spec, const json_t *value,
                     const char *where, struct crisp_err *err)
{
    if (!json_is_array(value))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: %s: expected an array of absolute paths, got %s", where,
                            spec->name, crisp_json_type_name(value));
    size_t n = json_array_size(value);
    char **paths = crisp_xcalloc(n + 1, sizeof(char *));
    _cleanup_free_ char *what = crisp_xasprintf("%s[]", spec->name);
    for (size_t i = 0; i < n; i++) {
        int r = set_path(&paths[i], json_array_get(value, i), where, what, err);
        if (r < 0) {
            free_paths(paths);
            return r;
        }
    }
    char ***field = (char ***)((char *)cfg + spec->offset);
    free_paths(*field);
    *field = paths;
    *(size_t *)((char *)cfg + spec->count_offset) = n;
    return 0;
}

static int apply_value(struct crisp_config *cfg, const struct key_spec *spec, const json_t *value,
                       const char *where, struct crisp_err *err)
{
    void *field = (char *)cfg + spec->offset;
    switch (spec->type) {
    case KEY_BOOL:
        return set_bool(field, spec, value, where, err);
    case KEY_REGISTRIES:
        return crisp_registries_apply(cfg, value, where, err);
    case KEY_PATH:
        return set_path(field, value, where, spec->name, err);
    case KEY_INT:
        return set_int(field, spec, value, where, err);
    case KEY_ENUM:
        return set_enum(field, spec, value, where, err);
    case KEY_ADDRESS:
        return set_address(field, spec, value, where, err);
    case KEY_PATHS:
        return set_paths(cfg, spec, value, where, err);
    }
    return crisp_errorf(err, GRPC_STATUS_INTERNAL, EINVAL, "%s: %s: bad schema", where, spec->name);
}

static void known_keys(char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < SCHEMA_LEN; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? ", " : "", schema[i].name);
    }
}

static int apply_object(struct crisp_config *cfg, const json_t *root, const char *where,
                        struct crisp_err *err)
{
    if (!json_is_object(root))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: top level: expected a JSON object, got %s", where,
                            crisp_json_type_name(root));
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value)
    {
        const struct key_spec *spec = find_key(key);
        if (!spec) {
            char keys[512];
            known_keys(keys, sizeof(keys));
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "%s: %s: unknown key (expected one of: %s)", where, key, keys);
        }
        int r = apply_value(cfg, spec, value, where, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int crisp_config_apply_file(struct crisp_config *cfg, const char *path, struct crisp_err *err)
{
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.position == 0 && jerr.line <= 0)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "%s: %s", path,
                                jerr.text);
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: line %d column %d: invalid JSON: %s", path, jerr.line, jerr.column,
                            jerr.text);
    }
    /* Validate into a scratch copy so a bad file never leaves cfg half-applied. */
    struct crisp_config scratch;
    crisp_config_init(&scratch);
    int r = apply_object(&scratch, root, path, err);
    crisp_config_free(&scratch);
    if (r < 0)
        return r;
    return apply_object(cfg, root, path, err);
}

char *crisp_config_dropin_dir(const char *main_path)
{
    size_t len = strlen(main_path);
    if (len > 5 && strcmp(main_path + len - 5, ".json") == 0)
        return crisp_xasprintf("%.*s.d", (int)(len - 5), main_path);
    return crisp_xasprintf("%s.d", main_path);
}

static int is_json_file(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

static int apply_dropins(struct crisp_config *cfg, const char *dir, struct crisp_err *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, is_json_file, alphasort);
    if (n < 0) {
        if (errno == ENOENT)
            return 0;
        return crisp_syserrf(err, errno, "%s: read drop-in directory", dir);
    }
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (r == 0) {
            _cleanup_free_ char *path = crisp_xasprintf("%s/%s", dir, names[i]->d_name);
            r = crisp_config_apply_file(cfg, path, err);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int crisp_config_load(struct crisp_config *cfg, const char *main_path, bool required,
                      struct crisp_err *err)
{
    if (access(main_path, F_OK) == 0 || required) {
        int r = crisp_config_apply_file(cfg, main_path, err);
        if (r < 0)
            return r;
    }
    _cleanup_free_ char *dir = crisp_config_dropin_dir(main_path);
    return apply_dropins(cfg, dir, err);
}

/* Flags arrive as strings; integers are parsed strictly, then validated by the
 * same code as file values. */
int crisp_config_set_flag(struct crisp_config *cfg, const char *key, const char *value,
                          struct crisp_err *err)
{
    const struct key_spec *spec = find_key(key);
    if (!spec)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "--%s: unknown option", key);
    _cleanup_free_ char *where = crisp_xasprintf("command line: --%s", key);
    _cleanup_json_ json_t *v = NULL;
    if (spec->type == KEY_INT) {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        bool starts_like_integer = (*value >= '0' && *value <= '9') || *value == '-';
        if (errno || !starts_like_integer || *end)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "%s: expected an integer from %lld to %lld, got \"%s\"", where,
                                spec->min, spec->max, value);
        v = json_integer(n);
    } else if (spec->type == KEY_PATHS) {
        v = json_array();
        _cleanup_free_ char *copy = crisp_xstrdup(value);
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            json_array_append_new(v, json_string(tok));
    } else {
        v = json_string(value);
    }
    if (!v)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "%s: expected UTF-8 text",
                            where);
    return apply_value(cfg, spec, v, "command line", err);
}

json_t *crisp_config_to_json(const struct crisp_config *cfg)
{
    json_t *out = json_object();
    for (size_t i = 0; i < SCHEMA_LEN; i++) {
        const struct key_spec *spec = &schema[i];
        const void *field = (const char *)cfg + spec->offset;
        json_t *v = NULL;
        switch (spec->type) {
        case KEY_PATH:
        case KEY_ADDRESS:
            v = json_string(*(char *const *)field);
            break;
        case KEY_PATHS:
            v = json_array();
            for (char *const *p = *(char **const *)field; p && *p; p++)
                json_array_append_new(v, json_string(*p));
            break;
        case KEY_INT:
            v = json_integer(*(const long long *)field);
            break;
        case KEY_ENUM:
            v = json_string(spec->choices[*(const int *)field]);
            break;
        case KEY_BOOL:
            v = json_boolean(*(const bool *)field);
            break;
        case KEY_REGISTRIES:
            v = crisp_registries_to_json(cfg);
            break;
        }
        json_object_set_new(out, spec->name, v);
    }
    return out;
}

const char *crisp_cgroup_driver_name(enum crisp_cgroup_driver driver)
{
    return cgroup_driver_choices[driver];
}
