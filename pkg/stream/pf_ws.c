/* Port-forward over WebSocket (the kubelet's v4.channel.k8s.io port-forward): the ports come
 * from the URL's "port" query parameters (else the PortForward request's); port i has data
 * channel 2i and error channel 2i+1, and the first message on each is the port as two
 * little-endian bytes. One connection per port for the whole session. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream/pf_dial.h"
#include "stream/session.h"
#include "stream/ws_conn.h"
#include "util/log.h"

#define MAX_WS_PORTS 32

static const char *const protocols[] = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io", NULL};

struct pf_ws {
    struct crisp_stream_session *s;
    struct ws_conn c;
    uint16_t ports[MAX_WS_PORTS];
    int fds[MAX_WS_PORTS];
    size_t n;
};

/* "port=80&port=8080" (a parameter may also list ports separated by commas). */
static int query_ports(const char *query, uint16_t *ports, size_t *n)
{
    if (!query)
        return 0;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", query);
    char *save = NULL;
    for (char *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        if (strncmp(kv, "port=", 5) != 0)
            continue;
        char *save2 = NULL;
        for (char *p = strtok_r(kv + 5, ",", &save2); p; p = strtok_r(NULL, ",", &save2)) {
            char *end;
            long v = strtol(p, &end, 10);
            if (*end || v < 1 || v > 65535 || *n == MAX_WS_PORTS)
                return -1;
            ports[(*n)++] = (uint16_t)v;
        }
    }
    return 0;
}

static int choose_ports(struct pf_ws *pf)
{
    if (query_ports(pf->s->http->query, pf->ports, &pf->n) < 0) {
        crisp_http_respond(pf->s->fd, 400, NULL,
                           "port query parameters must be 1 to 65535, at most 32");
        return -1;
    }
    for (size_t i = 0; pf->n == 0 && i < pf->s->req->n_ports && i < MAX_WS_PORTS; i++)
        pf->ports[i] = (uint16_t)pf->s->req->ports[i];
    if (pf->n == 0)
        pf->n = pf->s->req->n_ports < MAX_WS_PORTS ? pf->s->req->n_ports : MAX_WS_PORTS;
    if (pf->n > 0)
        return 0;
    crisp_http_respond(pf->s->fd, 400, NULL, "at least one port must be specified (?port=N)");
    return -1;
}

static int open_ports(struct pf_ws *pf, struct crisp_err *err)
{
    for (size_t i = 0; i < pf->n; i++) {
        uint8_t le[2] = {(uint8_t)pf->ports[i], (uint8_t)(pf->ports[i] >> 8)};
        int r = ws_conn_send(&pf->c, (int)(2 * i), le, 2, err);
        if (r == 0)
            r = ws_conn_send(&pf->c, (int)(2 * i + 1), le, 2, err);
        if (r < 0)
            return r;
        struct crisp_err dial_err;
        if (crisp_pod_dial(pf->s->env->pods, pf->s->req->id, pf->ports[i], &pf->fds[i], &dial_err) <
            0) {
            char msg[CRISP_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof(msg), "error forwarding port %u: %s", pf->ports[i], dial_err.msg);
            r = ws_conn_send(&pf->c, (int)(2 * i + 1), msg, strlen(msg), err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void close_port(struct pf_ws *pf, size_t i)
{
    if (pf->fds[i] >= 0)
        close(pf->fds[i]);
    pf->fds[i] = -1;
}

static int to_target(struct pf_ws *pf, const struct ws_message *m)
{
    size_t i = (size_t)m->channel / 2;
    if (m->channel % 2 != 0 || i >= pf->n || pf->fds[i] < 0)
        return 0; /* error channels and closed ports take nothing */
    const uint8_t *p = m->data;
    size_t len = m->len;
    while (len > 0) {
        ssize_t n = send(pf->fds[i], p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd w = {.fd = pf->fds[i], .events = POLLOUT};
            poll(&w, 1, 30000);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close_port(pf, i);
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int from_target(struct pf_ws *pf, size_t i, struct crisp_err *err)
{
    char buf[32768];
    ssize_t n = recv(pf->fds[i], buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        close_port(pf, i);
        return 0;
    }
    return ws_conn_send(&pf->c, (int)(2 * i), buf, (size_t)n, err);
}

static int serve(struct pf_ws *pf, struct crisp_err *err)
{
    for (;;) {
        struct pollfd p[2 + MAX_WS_PORTS] = {{.fd = pf->s->fd, .events = POLLIN},
                                             {.fd = pf->s->stop_fd, .events = POLLIN}};
        for (size_t i = 0; i < pf->n; i++)
            p[2 + i] = (struct pollfd){.fd = pf->fds[i], .events = POLLIN};
        int ready = poll(p, 2 + pf->n, pf->s->idle_timeout_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return crisp_syserrf(err, errno, "poll");
        if (ready == 0 || p[1].revents)
            return 0;
        for (size_t i = 0; i < pf->n; i++) {
            int r = p[2 + i].revents ? from_target(pf, i, err) : 0;
            if (r < 0)
                return r;
        }
        if (!p[0].revents)
            continue;
        int r = ws_conn_fill(&pf->c, err);
        struct ws_message m = {0};
        while (r == 0 && (r = ws_conn_next(&pf->c, &m, err)) == 0 && m.channel >= 0)
            r = to_target(pf, &m);
        free(m.owned);
        if (r < 0 || pf->c.eof || pf->c.close_seen)
            return r;
    }
}

int crisp_pf_ws_serve(struct crisp_stream_session *s)
{
    struct pf_ws pf = {.s = s};
    for (size_t i = 0; i < MAX_WS_PORTS; i++)
        pf.fds[i] = -1;
    struct crisp_err err;
    if (choose_ports(&pf) < 0 || ws_handshake(s->fd, s->http, protocols, &s->protocol, &err) < 0)
        return -1;
    ws_conn_init(&pf.c, s->fd, strstr(s->protocol, "base64") != NULL, s->http->extra,
                 s->http->n_extra);
    int r = open_ports(&pf, &err);
    if (r == 0)
        r = serve(&pf, &err);
    if (r < 0)
        log_info("stream", "port-forward %s: %s", s->req->id, err.msg);
    if (!pf.c.eof)
        ws_conn_close(&pf.c, r < 0 ? 1011 : 1000, r < 0 ? err.msg : NULL);
    for (size_t i = 0; i < pf.n; i++)
        close_port(&pf, i);
    ws_conn_free(&pf.c);
    return r;
}
