#define _GNU_SOURCE
#include "monitor/spec_security.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void crisp_monitor_spec_security_json(const struct crisp_monitor_spec *s, json_t *o)
{
    if (s->n_devices) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_devices; i++) {
            const struct crisp_device *d = &s->devices[i];
            char type[2] = {d->type, '\0'};
            json_array_append_new(a,
                                  json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", d->path,
                                            "type", type, "major", (json_int_t)d->major, "minor",
                                            (json_int_t)d->minor, "mode", (json_int_t)d->mode,
                                            "uid", (json_int_t)d->uid, "gid", (json_int_t)d->gid));
        }
        json_object_set_new(o, "devices", a);
    }
    json_object_set_new(o, "host_devices", json_boolean(s->host_devices));
    json_object_set_new(o, "sys_writable", json_boolean(s->sys_writable));
    if (s->apparmor_profile)
        json_object_set_new(o, "apparmor_profile", json_string(s->apparmor_profile));
}

static int bad(const char *path, const char *field, size_t i, const char *what,
               struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "monitor spec %s: \"%s[%zu]\": %s", path, field, i, what);
}

static bool get_u32(json_t *d, const char *key, uint32_t max, uint32_t *out)
{
    json_t *v = json_object_get(d, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return false;
    *out = (uint32_t)json_integer_value(v);
    return true;
}

static int read_device(json_t *d, struct crisp_device *out, const char *path, size_t i,
                       struct crisp_err *err)
{
    const char *p = json_string_value(json_object_get(d, "path"));
    const char *type = json_string_value(json_object_get(d, "type"));
    uint32_t major, minor, mode, uid, gid;
    if (!json_is_object(d) || !p || p[0] != '/' || !type || strlen(type) != 1 ||
        !strchr("cb", type[0]))
        return bad(path, "devices", i, "expected {\"path\": absolute, \"type\": \"c\" or \"b\"}",
                   err);
    if (!get_u32(d, "major", UINT32_MAX, &major) || !get_u32(d, "minor", UINT32_MAX, &minor) ||
        !get_u32(d, "mode", 07777, &mode) || !get_u32(d, "uid", UINT32_MAX - 1, &uid) ||
        !get_u32(d, "gid", UINT32_MAX - 1, &gid))
        return bad(path, "devices", i, "major, minor, mode, uid and gid must be numbers in range",
                   err);
    *out = (struct crisp_device){.path = crisp_xstrdup(p),
                                 .type = type[0],
                                 .major = major,
                                 .minor = minor,
                                 .mode = mode,
                                 .uid = uid,
                                 .gid = gid};
    return 0;
}

static int get_flag(json_t *o, const char *key, bool *out, const char *path, struct crisp_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = json_is_true(v);
    if (v && !json_is_boolean(v) && !json_is_null(v))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "monitor spec %s: \"%s\": expected true or false", path, key);
    return 0;
}

int crisp_monitor_spec_security_read(json_t *o, struct crisp_monitor_spec *s, const char *path,
                                     struct crisp_err *err)
{
    json_t *a = json_object_get(o, "devices");
    if (a && !json_is_array(a) && !json_is_null(a))
        return bad(path, "devices", 0, "expected an array", err);
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    s->devices = crisp_xcalloc(n + 1, sizeof(*s->devices));
    for (size_t i = 0; i < n; i++) {
        int r = read_device(json_array_get(a, i), &s->devices[i], path, i, err);
        if (r < 0)
            return r;
        s->n_devices = i + 1;
    }
    int r = get_flag(o, "host_devices", &s->host_devices, path, err);
    if (r == 0)
        r = get_flag(o, "sys_writable", &s->sys_writable, path, err);
    json_t *aa = json_object_get(o, "apparmor_profile");
    if (r == 0 && aa && !json_is_null(aa)) {
        if (!json_is_string(aa) || json_string_length(aa) == 0)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "monitor spec %s: \"apparmor_profile\": expected a profile name",
                                path);
        s->apparmor_profile = crisp_xstrdup(json_string_value(aa));
    }
    return r;
}

void crisp_monitor_spec_security_free(struct crisp_monitor_spec *s)
{
    for (size_t i = 0; s->devices && i < s->n_devices; i++)
        free((char *)s->devices[i].path);
    free(s->devices);
    s->devices = NULL;
    s->n_devices = 0;
    free(s->apparmor_profile);
    s->apparmor_profile = NULL;
    free(s->device_rules);
    s->device_rules = NULL;
    s->n_device_rules = 0;
}
