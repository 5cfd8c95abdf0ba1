#define _GNU_SOURCE
#include "exit.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"

int crisp_monitor_exit_write(const char *path, const struct crisp_monitor_exit *e,
                             struct crisp_err *err)
{
    _cleanup_json_ json_t *o =
        json_pack("{s:i, s:i, s:I, s:I, s:b}", "exit_code", e->exit_code, "signal", e->signal,
                  "started_at", (json_int_t)e->started_at, "finished_at",
                  (json_int_t)e->finished_at, "oom_killed", (int)e->oom_killed);
    if (!o)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "encode %s", path);
    if (e->reason[0]) {
        json_object_set_new(o, "reason", json_string(e->reason));
        /* json_string refuses invalid UTF-8: then the message is left out */
        json_t *msg = json_string(e->message);
        if (msg)
            json_object_set_new(o, "message", msg);
    }
    _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
    if (!text)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "encode %s", path);
    return crisp_write_file_atomic(path, text, strlen(text), 0644, err);
}

static int bad(struct crisp_err *err, const char *path, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INTERNAL, EINVAL, "exit file %s: %s", path, what);
}

int crisp_monitor_exit_read(const char *path, struct crisp_monitor_exit *e, struct crisp_err *err)
{
    memset(e, 0, sizeof(*e));
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = crisp_read_file(path, 64 * 1024, &text, &len, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    _cleanup_json_ json_t *o = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(o))
        return bad(err, path, "not a JSON object");
    json_t *code = json_object_get(o, "exit_code"), *sig = json_object_get(o, "signal"),
           *started = json_object_get(o, "started_at"),
           *finished = json_object_get(o, "finished_at"), *oom = json_object_get(o, "oom_killed");
    if (!json_is_integer(code) || !json_is_integer(sig) || !json_is_integer(started) ||
        !json_is_integer(finished) || !json_is_boolean(oom))
        return bad(err, path, "missing or mistyped field");
    if (json_integer_value(code) < INT_MIN || json_integer_value(code) > INT_MAX ||
        json_integer_value(sig) < 0 || json_integer_value(sig) > 128)
        return bad(err, path, "exit_code or signal out of range");
    e->exit_code = (int)json_integer_value(code);
    e->signal = (int)json_integer_value(sig);
    e->started_at = json_integer_value(started);
    e->finished_at = json_integer_value(finished);
    e->oom_killed = json_is_true(oom);
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *message = json_string_value(json_object_get(o, "message"));
    if (reason)
        snprintf(e->reason, sizeof(e->reason), "%s", reason);
    if (message)
        snprintf(e->message, sizeof(e->message), "%s", message);
    return 0;
}
