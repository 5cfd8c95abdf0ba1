#define _GNU_SOURCE
#include "stream/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "stream/net_io.h"
#include "stream/session.h"
#include "util/log.h"
#include "util/mem.h"

#define HEAD_TIMEOUT_SECONDS 30
#define SEND_TIMEOUT_SECONDS 60

static const char *const remote_command_protocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                                       "v2.channel.k8s.io", "channel.k8s.io", NULL};
static const char *const port_forward_protocols[] = {"portforward.k8s.io", NULL};

/* A client that stops reading blocks a write this long at most. */
static void set_send_timeout(int fd)
{
    struct timeval snd = {.tv_sec = SEND_TIMEOUT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
}

/* "/exec/<token>" -> kind and token; false for any other path. */
static bool parse_route(const char *path, enum crisp_stream_kind *kind, const char **token)
{
    static const enum crisp_stream_kind kinds[] = {CRISP_STREAM_EXEC, CRISP_STREAM_ATTACH,
                                                   CRISP_STREAM_PORTFORWARD};
    for (size_t i = 0; i < 3; i++) {
        const char *route = crisp_stream_kind_route(kinds[i]);
        size_t n = strlen(route);
        if (path[0] == '/' && strncmp(path + 1, route, n) == 0 && path[n + 1] == '/' &&
            path[n + 2] && !strchr(path + n + 2, '/')) {
            *kind = kinds[i];
            *token = path + n + 2;
            return true;
        }
    }
    return false;
}

/* The client's first protocol the server supports (httpstream.Handshake's rule). */
static const char *negotiate(const struct crisp_http_request *http, const char *const *server,
                             int *status)
{
    char buf[2048];
    const char *client[32];
    size_t n =
        crisp_http_header_values(http, "X-Stream-Protocol-Version", buf, sizeof(buf), client, 32);
    if (n == 0) {
        *status = 400;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; server[j]; j++)
            if (strcmp(client[i], server[j]) == 0)
                return server[j];
    *status = 403;
    return NULL;
}

static void refuse_protocol(int fd, int status, const char *const *server)
{
    char headers[512] = "";
    for (size_t j = 0; server[j] && status == 403; j++) {
        size_t used = strlen(headers);
        snprintf(headers + used, sizeof(headers) - used,
                 "X-Accepted-Stream-Protocol-Versions: %s\r\n", server[j]);
    }
    crisp_http_respond(fd, status, headers,
                       status == 400 ? "unable to upgrade: X-Stream-Protocol-Version is required"
                                     : "unable to upgrade: unable to negotiate protocol");
}

static void serve_spdy(struct crisp_stream_session *s)
{
    const char *const *server = s->req->kind == CRISP_STREAM_PORTFORWARD ? port_forward_protocols
                                                                         : remote_command_protocols;
    int status = 0;
    s->protocol = negotiate(s->http, server, &status);
    if (!s->protocol) {
        refuse_protocol(s->fd, status, server);
        return;
    }
    char *reply = crisp_xasprintf("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                  "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
                                  s->protocol);
    struct crisp_err err;
    int r = crisp_write_all(s->fd, reply, strlen(reply), &err);
    free(reply);
    if (r < 0)
        return;
    if (s->req->kind == CRISP_STREAM_PORTFORWARD)
        crisp_pf_spdy_serve(s);
    else
        crisp_rc_spdy_serve(s);
}

static bool header_is(const struct crisp_http_request *http, const char *name, const char *value)
{
    const char *v = crisp_http_header(http, name);
    return v && strcasecmp(v, value) == 0;
}

void crisp_conn_serve(const struct crisp_conn_ctx *ctx)
{
    set_send_timeout(ctx->fd);
    struct crisp_http_request *http = crisp_xmalloc(sizeof(*http));
    struct crisp_err err;
    enum crisp_stream_kind kind;
    const char *token;
    struct crisp_stream_request *req = NULL;
    if (crisp_http_read_request(ctx->fd, ctx->stop_fd, HEAD_TIMEOUT_SECONDS * 1000, http, &err) <
        0) {
        if (err.code == GRPC_STATUS_INVALID_ARGUMENT || err.code == GRPC_STATUS_RESOURCE_EXHAUSTED)
            crisp_http_respond(ctx->fd, err.code == GRPC_STATUS_RESOURCE_EXHAUSTED ? 431 : 400,
                               NULL, err.msg);
    } else if (strcmp(http->method, "GET") != 0 && strcmp(http->method, "POST") != 0) {
        crisp_http_respond(ctx->fd, 405, "Allow: GET, POST\r\n", "expected GET or POST");
    } else if (!parse_route(http->path, &kind, &token) ||
               !(req = crisp_token_redeem(ctx->tokens, token)) || req->kind != kind) {
        crisp_http_respond(ctx->fd, 404, NULL,
                           "unknown, expired or already used streaming URL; ask for a new one");
    } else {
        struct crisp_stream_session s = {.fd = ctx->fd,
                                         .stop_fd = ctx->stop_fd,
                                         .idle_timeout_ms = ctx->idle_timeout_ms,
                                         .env = ctx->env,
                                         .req = req,
                                         .http = http};
        if (header_is(http, "Upgrade", "SPDY/3.1"))
            serve_spdy(&s);
        else if (header_is(http, "Upgrade", "websocket") && kind == CRISP_STREAM_PORTFORWARD)
            crisp_pf_ws_serve(&s);
        else if (header_is(http, "Upgrade", "websocket"))
            crisp_rc_ws_serve(&s);
        else
            crisp_http_respond(
                ctx->fd, 400, NULL,
                "expected an upgrade to SPDY/3.1 or websocket (Connection: Upgrade, Upgrade: "
                "SPDY/3.1 or websocket)");
    }
    crisp_stream_request_free(req);
    free(http);
}
