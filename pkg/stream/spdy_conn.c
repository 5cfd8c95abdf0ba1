#define _GNU_SOURCE
#include "stream/spdy_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/net_io.h"
#include "util/mem.h"

#define READ_CHUNK   65536
#define WINDOW_GRANT (SPDY_INITIAL_WINDOW / 2)

int spdy_conn_init(struct spdy_conn *c, int fd, const void *initial, size_t n,
                   struct crisp_err *err)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    crisp_buf_put(&c->in, initial, n);
    return spdy_zlib_init(&c->z, err);
}

void spdy_conn_free(struct spdy_conn *c)
{
    while (c->streams)
        spdy_conn_release(c, c->streams);
    crisp_buf_free(&c->in);
    crisp_buf_free(&c->out);
    spdy_zlib_free(&c->z);
}

int spdy_conn_fill(struct spdy_conn *c, struct crisp_err *err)
{
    crisp_buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = read(c->fd, c->in.data + c->in.len, READ_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0)
        return crisp_syserrf(err, errno, "spdy: read");
    if (n == 0)
        c->eof = true;
    c->in.len += (size_t)n;
    return 0;
}

static int flush(struct spdy_conn *c, struct crisp_err *err)
{
    int r = crisp_write_all(c->fd, c->out.data, c->out.len, err);
    c->out.len = 0;
    return r;
}

static struct spdy_stream *find(struct spdy_conn *c, uint32_t id)
{
    for (struct spdy_stream *s = c->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

void spdy_conn_release(struct spdy_conn *c, struct spdy_stream *s)
{
    for (struct spdy_stream **p = &c->streams; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            c->n_streams--;
            break;
        }
    }
    spdy_headers_free(&s->headers);
    free(s);
}

static int refuse(struct spdy_conn *c, uint32_t id, uint32_t status, struct crisp_err *err)
{
    spdy_put_rst_stream(&c->out, id, status);
    return flush(c, err);
}

/* SYN_STREAM: stream id (31), associated id (31), priority/slot (16), header block. */
static int on_syn_stream(struct spdy_conn *c, const struct spdy_frame *f, struct spdy_event *ev,
                         struct crisp_err *err)
{
    if (f->len < 10)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                            "spdy: SYN_STREAM of %u bytes", f->len);
    uint32_t id = crisp_get_u32(f->payload) & 0x7fffffffu;
    struct spdy_headers hs;
    /* Decoded even for a refused stream: the compression context must see every block. */
    int r = spdy_headers_decode(&c->z, f->payload + 10, f->len - 10, &hs, err);
    if (r < 0)
        return r;
    if (id % 2 == 0 || id <= c->last_id || c->n_streams >= SPDY_MAX_STREAMS) {
        spdy_headers_free(&hs);
        return refuse(c, id,
                      c->n_streams >= SPDY_MAX_STREAMS ? SPDY_RST_REFUSED_STREAM
                                                       : SPDY_RST_PROTOCOL_ERROR,
                      err);
    }
    c->last_id = id;
    struct spdy_stream *s = crisp_xcalloc(1, sizeof(*s));
    s->id = id;
    s->headers = hs;
    s->remote_fin = f->flags & SPDY_FLAG_FIN;
    s->next = c->streams;
    c->streams = s;
    c->n_streams++;
    spdy_put_syn_reply(&c->z, &c->out, id, false);
    ev->kind = SPDY_EV_STREAM;
    ev->stream = s;
    return flush(c, err);
}

/* Grants the window back once half of it has been consumed. */
static void grant(struct spdy_conn *c, struct spdy_stream *s, size_t n)
{
    s->unacked += (uint32_t)n;
    c->session_unacked += (uint32_t)n;
    if (s->unacked >= WINDOW_GRANT && !s->remote_fin) {
        spdy_put_window_update(&c->out, s->id, s->unacked);
        s->unacked = 0;
    }
    if (c->session_unacked >= WINDOW_GRANT) {
        spdy_put_window_update(&c->out, 0, c->session_unacked);
        c->session_unacked = 0;
    }
}

static int on_data(struct spdy_conn *c, const struct spdy_frame *f, struct spdy_event *ev,
                   struct crisp_err *err)
{
    struct spdy_stream *s = find(c, f->stream_id);
    if (!s || s->remote_fin)
        return refuse(c, f->stream_id, s ? SPDY_RST_STREAM_IN_USE : SPDY_RST_INVALID_STREAM, err);
    s->remote_fin = f->flags & SPDY_FLAG_FIN;
    grant(c, s, f->len);
    ev->kind = SPDY_EV_DATA;
    ev->stream = s;
    ev->data = f->payload;
    ev->len = f->len;
    ev->fin = s->remote_fin;
    return c->out.len ? flush(c, err) : 0;
}

static int on_control(struct spdy_conn *c, const struct spdy_frame *f, struct spdy_event *ev,
                      struct crisp_err *err)
{
    switch (f->type) {
    case SPDY_SYN_STREAM:
        return on_syn_stream(c, f, ev, err);
    case SPDY_RST_STREAM:
        if (f->len >= 4) {
            struct spdy_stream *s = find(c, crisp_get_u32(f->payload) & 0x7fffffffu);
            if (s) {
                ev->kind = SPDY_EV_RESET;
                ev->stream = s;
            }
        }
        return 0;
    case SPDY_PING:
        if (f->len != 4)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                                "spdy: PING of %u bytes, expected 4", f->len);
        if (crisp_get_u32(f->payload) % 2 == 1) { /* the client's; even ids would be ours */
            spdy_put_ping(&c->out, crisp_get_u32(f->payload));
            return flush(c, err);
        }
        return 0;
    case SPDY_GOAWAY:
        ev->kind = SPDY_EV_GOAWAY;
        return 0;
    case SPDY_HEADERS:
        if (f->len < 4)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO,
                                "spdy: HEADERS of %u bytes", f->len);
        struct spdy_headers ignored; /* keeps the inflate context in step */
        int r = spdy_headers_decode(&c->z, f->payload + 4, f->len - 4, &ignored, err);
        spdy_headers_free(&ignored);
        return r;
    default: /* SETTINGS, WINDOW_UPDATE, SYN_REPLY, unknown types: ignored, as the spec says */
        return 0;
    }
}

int spdy_conn_next(struct spdy_conn *c, struct spdy_event *ev, struct crisp_err *err)
{
    memset(ev, 0, sizeof(*ev));
    crisp_buf_consume(&c->in, c->pending_consume);
    c->pending_consume = 0;
    while (ev->kind == SPDY_EV_NONE) {
        struct spdy_frame f;
        long n = spdy_frame_parse(c->in.data, c->in.len, &f, err);
        if (n <= 0)
            return (int)n;
        int r = f.control ? on_control(c, &f, ev, err) : on_data(c, &f, ev, err);
        if (r < 0)
            return r;
        if (ev->kind == SPDY_EV_DATA)
            c->pending_consume = (size_t)n; /* ev->data points into the frame */
        else
            crisp_buf_consume(&c->in, (size_t)n);
    }
    return 0;
}

int spdy_conn_send(struct spdy_conn *c, struct spdy_stream *s, const void *data, size_t len,
                   bool fin, struct crisp_err *err)
{
    if (s->local_fin)
        return 0;
    const uint8_t *p = data;
    do { /* frames of at most 32 KiB, like the Go client sends */
        size_t n = len > 32768 ? 32768 : len;
        spdy_put_data(&c->out, s->id, p, n, fin && n == len);
        p += n;
        len -= n;
    } while (len > 0);
    s->local_fin = fin;
    return flush(c, err);
}

int spdy_conn_reset(struct spdy_conn *c, struct spdy_stream *s, uint32_t status,
                    struct crisp_err *err)
{
    s->local_fin = true;
    return refuse(c, s->id, status, err);
}

int spdy_conn_goaway(struct spdy_conn *c, uint32_t status, struct crisp_err *err)
{
    spdy_put_goaway(&c->out, c->last_id, status);
    return flush(c, err);
}
