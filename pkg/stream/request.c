#include "stream/request.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

struct crisp_stream_request *crisp_stream_request_copy(const struct crisp_stream_request *r)
{
    struct crisp_stream_request *c = crisp_xcalloc(1, sizeof(*c));
    *c = *r;
    c->id = crisp_xstrdup(r->id);
    c->cmd = crisp_xcalloc(r->n_cmd + 1, sizeof(char *));
    for (size_t i = 0; i < r->n_cmd; i++)
        c->cmd[i] = crisp_xstrdup(r->cmd[i]);
    c->ports = crisp_xcalloc(r->n_ports + 1, sizeof(int32_t));
    if (r->n_ports)
        memcpy(c->ports, r->ports, r->n_ports * sizeof(int32_t));
    return c;
}

void crisp_stream_request_free(struct crisp_stream_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_cmd; i++)
        free(r->cmd[i]);
    free(r->cmd);
    free(r->ports);
    free(r->id);
    free(r);
}

const char *crisp_stream_kind_route(enum crisp_stream_kind kind)
{
    switch (kind) {
    case CRISP_STREAM_EXEC:
        return "exec";
    case CRISP_STREAM_ATTACH:
        return "attach";
    default:
        return "portforward";
    }
}
