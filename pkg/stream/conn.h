/* One streaming connection from its HTTP request to the end of the upgraded session. */
#pragma once

#include "container/lifecycle.h"
#include "stream/token.h"

struct crisp_conn_ctx {
    int fd; /* the caller closes it */
    int stop_fd;
    int idle_timeout_ms;
    const struct crisp_ctr_env *env;
    struct crisp_token_store *tokens;
};

void crisp_conn_serve(const struct crisp_conn_ctx *ctx);
