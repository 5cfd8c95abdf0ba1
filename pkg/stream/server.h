/* The streaming server: HTTP/1.1 on cfg->stream_address, its own accept thread and one thread
 * per connection; /exec/<token>, /attach/<token>, /portforward/<token> upgraded to SPDY/3.1
 * or WebSocket. Exec, Attach and PortForward (pkg/cri/stream_service.c) issue the tokens. */
#pragma once

#include "config/config.h"
#include "container/lifecycle.h"
#include "stream/request.h"
#include "util/err.h"

struct crisp_stream_server;

/* Binds and starts serving. env must outlive the server. */
int crisp_stream_server_start(const struct crisp_config *cfg, const struct crisp_ctr_env *env,
                              struct crisp_stream_server **out, struct crisp_err *err);
/* Stops accepting, ends every connection (their exec'd processes are killed), joins. */
void crisp_stream_server_stop(struct crisp_stream_server *srv);
/* A one-time URL for req: "http://<host>:<port>/<route>/<token>" (malloc'd). */
int crisp_stream_server_url(struct crisp_stream_server *srv, const struct crisp_stream_request *req,
                            char **url, struct crisp_err *err);
