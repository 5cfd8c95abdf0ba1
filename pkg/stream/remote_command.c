#include "stream/remote_command.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/mem.h"

int crisp_rc_version(const char *protocol)
{
    if (protocol[0] == 'v' && protocol[1] >= '2' && protocol[1] <= '9' && protocol[2] == '.')
        return protocol[1] - '0';
    return 1;
}

static json_t *failure_status(const char *message, const char *reason, json_t *details)
{
    json_t *st = json_pack("{s:{},s:s,s:s,s:s}", "metadata", "status", "Failure", "message",
                           message, "reason", reason);
    if (details)
        json_object_set_new(st, "details", details);
    return st;
}

char *crisp_rc_status(int version, int exit_code, const struct crisp_err *failure)
{
    if (version < 4) {
        if (failure)
            return crisp_xstrdup(failure->msg);
        return exit_code
                   ? crisp_xasprintf("command terminated with non-zero exit code: %d", exit_code)
                   : NULL;
    }
    _cleanup_json_ json_t *st = NULL;
    if (failure) {
        st = failure_status(failure->msg, "InternalError", NULL);
    } else if (exit_code == 0) {
        st = json_pack("{s:{},s:s}", "metadata", "status", "Success");
    } else {
        char code[16],
            *msg = crisp_xasprintf("command terminated with non-zero exit code: %d", exit_code);
        snprintf(code, sizeof(code), "%d", exit_code);
        st = failure_status(
            msg, "NonZeroExitCode",
            json_pack("{s:[{s:s,s:s}]}", "causes", "reason", "ExitCode", "message", code));
        free(msg);
    }
    char *s = json_dumps(st, JSON_COMPACT);
    if (!s)
        abort(); /* out of memory: as crisp_x* do */
    return s;
}

static int bad_resize(struct crisp_err *err, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                        "resize: %s, expected {\"Width\":W,\"Height\":H}", what);
}

/* Applies one object; returns false when it is not a terminal size. */
static bool apply_size(json_t *o, struct crisp_resize_parser *p, struct crisp_stream_io *io)
{
    json_t *w = json_object_get(o, "Width"), *h = json_object_get(o, "Height");
    if (!json_is_integer(w) || !json_is_integer(h) || json_integer_value(w) < 0 ||
        json_integer_value(w) > 65535 || json_integer_value(h) < 0 || json_integer_value(h) > 65535)
        return false;
    p->width = (uint16_t)json_integer_value(w);
    p->height = (uint16_t)json_integer_value(h);
    p->pending = !io;
    if (io)
        io->ops->resize(io, p->width, p->height);
    return true;
}

int crisp_resize_feed(struct crisp_resize_parser *p, const void *data, size_t len,
                      struct crisp_stream_io *io, struct crisp_err *err)
{
    if (len > sizeof(p->buf) - p->len)
        return bad_resize(err, "message too long");
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    for (;;) {
        size_t start = 0;
        while (start < p->len && strchr(" \t\r\n", p->buf[start]))
            start++;
        if (start == p->len) {
            p->len = 0;
            return 0;
        }
        json_error_t je;
        json_t *o = json_loadb(p->buf + start, p->len - start, JSON_DISABLE_EOF_CHECK, &je);
        if (!o) /* incomplete (more to come) unless the text itself is wrong */
            return json_error_code(&je) == json_error_premature_end_of_input
                       ? 0
                       : bad_resize(err, "not JSON");
        bool ok = json_is_object(o) && apply_size(o, p, io);
        json_decref(o);
        if (!ok)
            return bad_resize(err, "not a terminal size");
        size_t used = start + (size_t)je.position;
        memmove(p->buf, p->buf + used, p->len - used);
        p->len -= used;
    }
}

void crisp_resize_apply_pending(struct crisp_resize_parser *p, struct crisp_stream_io *io)
{
    if (p->pending)
        io->ops->resize(io, p->width, p->height);
    p->pending = false;
}
