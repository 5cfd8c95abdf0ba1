/* What an Exec, Attach or PortForward call asked for, kept with its token until the client
 * connects. Owned by whoever holds it; crisp_stream_request_free releases it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum crisp_stream_kind { CRISP_STREAM_EXEC, CRISP_STREAM_ATTACH, CRISP_STREAM_PORTFORWARD };

struct crisp_stream_request {
    enum crisp_stream_kind kind;
    char *id;   /* container id (exec, attach) or pod sandbox id (port-forward) */
    char **cmd; /* exec: NULL-terminated argv */
    size_t n_cmd;
    bool tty, want_stdin, want_stdout, want_stderr;
    int32_t *ports; /* port-forward: the ports named in the request (may be none) */
    size_t n_ports;
};

struct crisp_stream_request *crisp_stream_request_copy(const struct crisp_stream_request *r);
void crisp_stream_request_free(struct crisp_stream_request *r);
const char *crisp_stream_kind_route(enum crisp_stream_kind kind); /* "exec", ... */
