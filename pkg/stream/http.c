#define _GNU_SOURCE
#include "stream/http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "stream/net_io.h"
#include "stream/token.h"
#include "util/deadline.h"
#include "util/mem.h"

static int bad_request(struct crisp_err *err, const char *what)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EPROTO, "malformed HTTP request: %s",
                        what);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int parse_request_line(char *line, struct crisp_http_request *req, struct crisp_err *err)
{
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return bad_request(err, "expected \"METHOD /path HTTP/1.1\"");
    *sp1 = *sp2 = '\0';
    req->method = line;
    req->path = sp1 + 1;
    char *q = strchr(req->path, '?');
    if (q) {
        *q = '\0';
        req->query = q + 1;
    }
    return 0;
}

static int parse_head(struct crisp_http_request *req, struct crisp_err *err)
{
    char *save = NULL;
    char *line = strtok_r(req->head, "\r\n", &save);
    if (!line)
        return bad_request(err, "empty request");
    int r = parse_request_line(line, req, err);
    while (r == 0 && (line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return bad_request(err, "header line without a name");
        if (req->n_headers == CRISP_HTTP_MAX_HEADERS)
            return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, E2BIG,
                                "more than %d request headers", CRISP_HTTP_MAX_HEADERS);
        *colon = '\0';
        req->headers[req->n_headers++] = (struct crisp_http_header){line, trim(colon + 1)};
    }
    return r;
}

/* Waits until fd is readable: 0, or an error when the deadline passes or stop_fd fires. */
static int wait_readable(int fd, int stop_fd, int64_t deadline, struct crisp_err *err)
{
    for (;;) {
        int64_t left = deadline - crisp_monotonic_ms();
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int n = left > 0 ? poll(p, 2, (int)left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return crisp_syserrf(err, errno, "poll");
        if (n == 0)
            return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                                "request head not received in time");
        if (p[1].revents)
            return crisp_errorf(err, GRPC_STATUS_CANCELLED, ECANCELED, "server stopping");
        return 0;
    }
}

int crisp_http_read_request(int fd, int stop_fd, int timeout_ms, struct crisp_http_request *req,
                            struct crisp_err *err)
{
    memset(req, 0, sizeof(*req));
    size_t len = 0;
    char *end = NULL;
    int64_t deadline = crisp_monotonic_ms() + timeout_ms;
    while (!end) {
        int r = wait_readable(fd, stop_fd, deadline, err);
        if (r < 0)
            return r;
        if (len == CRISP_HTTP_MAX_HEAD)
            return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, E2BIG,
                                "request head over %d bytes", CRISP_HTTP_MAX_HEAD);
        ssize_t n = read(fd, req->head + len, CRISP_HTTP_MAX_HEAD - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return crisp_syserrf(err, errno, "read request");
        if (n == 0)
            return bad_request(err, "connection closed before the end of the head");
        len += (size_t)n;
        req->head[len] = '\0';
        end = memmem(req->head, len, "\r\n\r\n", 4);
    }
    size_t head_len = (size_t)(end - req->head) + 4;
    req->n_extra = len - head_len;
    memcpy(req->extra, req->head + head_len, req->n_extra);
    *end = '\0';
    return parse_head(req, err);
}

const char *crisp_http_header(const struct crisp_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

size_t crisp_http_header_values(const struct crisp_http_request *req, const char *name, char *buf,
                                size_t buf_size, const char **values, size_t cap)
{
    size_t n = 0, used = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        size_t len = strlen(req->headers[i].value) + 1;
        if (used + len > buf_size)
            break;
        char *copy = memcpy(buf + used, req->headers[i].value, len);
        used += len;
        char *save = NULL;
        for (char *v = strtok_r(copy, ",", &save); v && n < cap; v = strtok_r(NULL, ",", &save))
            if (*trim(v))
                values[n++] = trim(v);
    }
    return n;
}

const char *crisp_http_reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

int crisp_http_respond(int fd, int status, const char *extra_headers, const char *body)
{
    char *msg = crisp_xasprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                                status, crisp_http_reason(status), strlen(body) + 1,
                                extra_headers ? extra_headers : "", body);
    char *full = crisp_xasprintf("%s\n", msg);
    free(msg);
    struct crisp_err err;
    int r = crisp_write_all(fd, full, strlen(full), &err);
    free(full);
    /* The request may have left bytes unread: closing at once would reset the connection and
     * could destroy the answer before the client reads it. */
    crisp_linger_close(fd, 1000);
    return r;
}
