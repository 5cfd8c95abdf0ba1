/* Port-forward over SPDY/3.1 (portforward.k8s.io): for each connection the client opens a
 * pair of streams, "error" and "data", with headers "port" and "requestid"; once both are
 * there crisp dials the port inside the pod and copies both ways. Any number of pairs, each
 * independent; errors go as text on the pair's error stream. */
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
#include "stream/spdy_conn.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_PAIRS 128

struct pf_pair {
    char request_id[24];
    uint16_t port;
    struct spdy_stream *data, *error;
    int fd; /* the dialed connection; -1 before (or after) */
    bool target_eof;
    struct pf_pair *next;
};

struct pf_spdy {
    struct crisp_stream_session *s;
    struct spdy_conn c;
    struct pf_pair *pairs;
    size_t n_pairs;
    bool client_gone;
};

/* The pair's id: the requestid header, else (clients before it existed) derived from the
 * stream ids as the kubelet does: an error stream's own id, a data stream's id minus 2. */
static void request_id(const struct spdy_stream *st, bool is_data, char *out, size_t size)
{
    const char *id = spdy_header_get(&st->headers, "requestid");
    if (id)
        snprintf(out, size, "%s", id);
    else
        snprintf(out, size, "%u", is_data ? st->id - 2 : st->id);
}

static bool parse_port(const char *s, uint16_t *port)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || v < 1 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static struct pf_pair *pair_for(struct pf_spdy *pf, const char *id)
{
    for (struct pf_pair *p = pf->pairs; p; p = p->next)
        if (strcmp(p->request_id, id) == 0)
            return p;
    if (pf->n_pairs == MAX_PAIRS)
        return NULL;
    struct pf_pair *p = crisp_xcalloc(1, sizeof(*p));
    snprintf(p->request_id, sizeof(p->request_id), "%s", id);
    p->fd = -1;
    p->next = pf->pairs;
    pf->pairs = p;
    pf->n_pairs++;
    return p;
}

static void pair_free(struct pf_spdy *pf, struct pf_pair *pair)
{
    for (struct pf_pair **p = &pf->pairs; *p; p = &(*p)->next) {
        if (*p == pair) {
            *p = pair->next;
            pf->n_pairs--;
            break;
        }
    }
    if (pair->fd >= 0)
        close(pair->fd);
    if (pair->data)
        spdy_conn_release(&pf->c, pair->data);
    if (pair->error)
        spdy_conn_release(&pf->c, pair->error);
    free(pair);
}

/* Ends a pair from our side: FIN on both streams (an error message first when there is one). */
static int pair_end(struct pf_spdy *pf, struct pf_pair *pair, const char *message,
                    struct crisp_err *err)
{
    int r = 0;
    if (pair->error && message)
        r = spdy_conn_send(&pf->c, pair->error, message, strlen(message), false, err);
    if (r == 0 && pair->error)
        r = spdy_conn_send(&pf->c, pair->error, "", 0, true, err);
    if (r == 0 && pair->data)
        r = spdy_conn_send(&pf->c, pair->data, "", 0, true, err);
    pair_free(pf, pair);
    return r;
}

static int dial(struct pf_spdy *pf, struct pf_pair *pair, struct crisp_err *err)
{
    struct crisp_err dial_err;
    int r = crisp_pod_dial(pf->s->env->pods, pf->s->req->id, pair->port, &pair->fd, &dial_err);
    if (r == 0)
        return 0;
    char *msg = crisp_xasprintf("error forwarding port %u to pod %s: %s", pair->port,
                                pf->s->req->id, dial_err.msg);
    log_info("stream", "%s", msg);
    r = pair_end(pf, pair, msg, err);
    free(msg);
    return r;
}

static int on_new_stream(struct pf_spdy *pf, struct spdy_stream *st, struct crisp_err *err)
{
    const char *type = spdy_header_get(&st->headers, "streamtype");
    bool is_data = type && strcmp(type, "data") == 0;
    bool is_error = type && strcmp(type, "error") == 0;
    uint16_t port = 0;
    char id[24];
    request_id(st, is_data, id, sizeof(id));
    struct pf_pair *pair = NULL;
    if ((is_data || is_error) && parse_port(spdy_header_get(&st->headers, "port"), &port))
        pair = pair_for(pf, id);
    if (!pair || (is_data ? pair->data : pair->error) || (pair->port && pair->port != port)) {
        log_debug("stream", "port-forward: refusing stream %u", st->id);
        int r = spdy_conn_reset(&pf->c, st, SPDY_RST_PROTOCOL_ERROR, err);
        spdy_conn_release(&pf->c, st);
        return r;
    }
    pair->port = port;
    if (is_data)
        pair->data = st;
    else
        pair->error = st;
    return pair->data && pair->error ? dial(pf, pair, err) : 0;
}

static struct pf_pair *pair_of(struct pf_spdy *pf, const struct spdy_stream *st)
{
    for (struct pf_pair *p = pf->pairs; p; p = p->next)
        if (p->data == st || p->error == st)
            return p;
    return NULL;
}

static int to_target(struct pf_pair *pair, const struct spdy_event *ev, struct crisp_err *err)
{
    const uint8_t *p = ev->data;
    size_t len = ev->len;
    while (len > 0 && pair->fd >= 0) {
        ssize_t n = send(pair->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd w = {.fd = pair->fd, .events = POLLOUT};
            if (poll(&w, 1, 30000) <= 0)
                return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, ETIMEDOUT,
                                    "port %u does not take data", pair->port);
            continue;
        }
        if (n < 0)
            return crisp_syserrf(err, errno, "port %u: send", pair->port);
        p += n;
        len -= (size_t)n;
    }
    if (ev->fin && pair->fd >= 0)
        shutdown(pair->fd, SHUT_WR);
    return 0;
}

static int on_event(struct pf_spdy *pf, const struct spdy_event *ev, struct crisp_err *err)
{
    struct pf_pair *pair = ev->stream ? pair_of(pf, ev->stream) : NULL;
    switch (ev->kind) {
    case SPDY_EV_STREAM:
        return on_new_stream(pf, ev->stream, err);
    case SPDY_EV_DATA:
        if (pair && ev->stream == pair->data) {
            struct crisp_err io_err;
            if (to_target(pair, ev, &io_err) < 0)
                return pair_end(pf, pair, io_err.msg, err);
        }
        return 0;
    case SPDY_EV_RESET:
        if (pair) {
            if (pair->data == ev->stream)
                pair->data = NULL;
            else
                pair->error = NULL;
            pair_free(pf, pair); /* releases the other stream too */
        }
        spdy_conn_release(&pf->c, ev->stream);
        return 0;
    case SPDY_EV_GOAWAY:
        pf->client_gone = true;
        return 0;
    default:
        return 0;
    }
}

static int read_client(struct pf_spdy *pf, struct crisp_err *err)
{
    int r = spdy_conn_fill(&pf->c, err);
    struct spdy_event ev;
    while (r == 0 && (r = spdy_conn_next(&pf->c, &ev, err)) == 0 && ev.kind != SPDY_EV_NONE)
        r = on_event(pf, &ev, err);
    if (pf->c.eof)
        pf->client_gone = true;
    return r;
}

static int from_target(struct pf_spdy *pf, struct pf_pair *pair, struct crisp_err *err)
{
    char buf[32768];
    ssize_t n = recv(pair->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) /* EOF or reset: the connection is over */
        return pair_end(pf, pair, n < 0 ? strerror(errno) : NULL, err);
    return spdy_conn_send(&pf->c, pair->data, buf, (size_t)n, false, err);
}

static int serve(struct pf_spdy *pf, struct crisp_err *err)
{
    for (;;) {
        struct pollfd p[2 + MAX_PAIRS] = {{.fd = pf->s->fd, .events = POLLIN},
                                          {.fd = pf->s->stop_fd, .events = POLLIN}};
        struct pf_pair *polled[MAX_PAIRS];
        size_t n = 2;
        for (struct pf_pair *pair = pf->pairs; pair; pair = pair->next)
            if (pair->fd >= 0) {
                polled[n - 2] = pair;
                p[n++] = (struct pollfd){.fd = pair->fd, .events = POLLIN};
            }
        int ready = poll(p, n, pf->s->idle_timeout_ms);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return crisp_syserrf(err, errno, "poll");
        if (ready == 0 || p[1].revents)
            return 0;
        /* Targets first: reading the client may free pairs polled here. */
        for (size_t i = 2; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int r = from_target(pf, polled[i - 2], err);
            if (r < 0)
                return r;
        }
        if (p[0].revents) {
            int r = read_client(pf, err);
            if (r < 0 || pf->client_gone)
                return r;
        }
    }
}

int crisp_pf_spdy_serve(struct crisp_stream_session *s)
{
    struct pf_spdy pf = {.s = s};
    struct crisp_err err;
    int r = spdy_conn_init(&pf.c, s->fd, s->http->extra, s->http->n_extra, &err);
    if (r == 0)
        r = serve(&pf, &err);
    if (r < 0) {
        log_info("stream", "port-forward %s: %s", s->req->id, err.msg);
        spdy_conn_goaway(&pf.c, 1, &err);
    }
    while (pf.pairs)
        pair_free(&pf, pf.pairs);
    spdy_conn_free(&pf.c);
    return r;
}
