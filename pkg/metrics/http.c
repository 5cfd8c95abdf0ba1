/* The metrics endpoint: a minimal HTTP/1.1 server. An accept thread hands
 * each connection to a short-lived thread of its own (at most MAX_CONNS at
 * once; more are answered 503), which sends one response and closes it; a
 * slow client is cut off after IO_TIMEOUT_S and never delays another. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/thread.h"

#define IO_TIMEOUT_S 5
#define MAX_REQUEST  8192
#define MAX_CONNS    8
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct crisp_metrics_server {
    int listen_fd;
    int stop_pipe[2];
    int port;
    crisp_metrics_gauge_fn gauges;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t idle; /* signalled when a connection thread ends */
    int active;          /* connection threads running */
};

struct conn {
    struct crisp_metrics_server *srv;
    int fd;
};

/* "host:port", "[v6]:port" -> host and port strings (malloc'd). */
static int split_address(const char *address, char **host, char **port, struct crisp_err *err)
{
    const char *colon = strrchr(address, ':');
    if (!colon || !colon[1])
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "metrics_address %s: expected host:port", address);
    const char *h = address, *h_end = colon;
    if (*h == '[' && h_end > h && h_end[-1] == ']')
        h++, h_end--;
    *host = crisp_xasprintf("%.*s", (int)(h_end - h), h);
    *port = crisp_xstrdup(colon + 1);
    return 0;
}

static int bind_listener(const char *address, int *fd_out, int *port, struct crisp_err *err)
{
    _cleanup_free_ char *host = NULL, *service = NULL;
    int r = split_address(address, &host, &service, err);
    if (r < 0)
        return r;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "metrics_address %s: %s",
                            address, gai_strerror(gai));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        r = crisp_syserrf(err, errno, "listen on metrics_address %s", address);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return r;
    }
    freeaddrinfo(ai);
    union {
        struct sockaddr any;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
        struct sockaddr_storage storage;
    } bound = {.storage = {0}};
    socklen_t len = sizeof(bound);
    if (getsockname(fd, &bound.any, &len) < 0) {
        r = crisp_syserrf(err, errno, "getsockname of the metrics listener");
        close(fd);
        return r;
    }
    *port = ntohs(bound.any.sa_family == AF_INET6 ? bound.v6.sin6_port : bound.v4.sin_port);
    *fd_out = fd;
    return 0;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the client went away or stalled past the timeout */
        data += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *extra, const char *body, bool head_only)
{
    _cleanup_free_ char *hdr = crisp_xasprintf(
        "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
        status, strcmp(status, "200 OK") == 0 ? CONTENT_TYPE : "text/plain; charset=utf-8",
        strlen(body), extra);
    send_all(fd, hdr, strlen(hdr));
    if (!head_only)
        send_all(fd, body, strlen(body));
}

/* Reads up to the end of the request headers. */
static ssize_t read_request(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size - 1) {
        ssize_t n = recv(fd, buf + got, size - 1 - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return (ssize_t)got;
    }
    return -1;
}

static void serve_connection(struct crisp_metrics_server *srv, int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return;
    char buf[MAX_REQUEST];
    if (read_request(fd, buf, sizeof(buf)) < 0)
        return respond(fd, "400 Bad Request", "", "expected an HTTP/1.1 request\n", false);
    char method[16], path[256], version[16];
    if (sscanf(buf, "%15s %255s %15s", method, path, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0)
        return respond(fd, "400 Bad Request", "", "expected an HTTP/1.1 request line\n", false);
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0)
        return respond(fd, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
                       "only GET /metrics is served\n", false);
    if (strcmp(path, "/metrics") != 0)
        return respond(fd, "404 Not Found", "", "only /metrics is served\n", head);
    _cleanup_free_ char *text = crisp_metrics_render(srv->gauges, srv->ctx);
    respond(fd, "200 OK", "", text, head);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    serve_connection(c->srv, c->fd);
    close(c->fd);
    pthread_mutex_lock(&c->srv->lock);
    c->srv->active--;
    pthread_cond_broadcast(&c->srv->idle);
    pthread_mutex_unlock(&c->srv->lock);
    free(c);
    return NULL;
}

/* Serves fd on a detached thread; closes it with a 503 when too many are busy. */
static void hand_off(struct crisp_metrics_server *srv, int fd)
{
    pthread_mutex_lock(&srv->lock);
    bool room = srv->active < MAX_CONNS;
    srv->active += room;
    pthread_mutex_unlock(&srv->lock);
    struct conn *c = crisp_xmalloc(sizeof(*c));
    *c = (struct conn){.srv = srv, .fd = fd};
    int r = room ? crisp_thread_start_detached(conn_main, c) : EAGAIN;
    if (r == 0)
        return;
    respond(fd, "503 Service Unavailable", "", "too many metrics requests at once\n", false);
    close(fd);
    free(c);
    if (room) {
        pthread_mutex_lock(&srv->lock);
        srv->active--;
        pthread_mutex_unlock(&srv->lock);
    }
}

static void *serve_main(void *arg)
{
    struct crisp_metrics_server *srv = arg;
    struct pollfd fds[2] = {{.fd = srv->listen_fd, .events = POLLIN},
                            {.fd = srv->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("metrics", "poll: %s", strerror(errno));
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
                log_warn("metrics", "accept: %s", strerror(errno));
            continue;
        }
        hand_off(srv, fd);
    }
}

int crisp_metrics_serve(const char *address, crisp_metrics_gauge_fn gauges, void *ctx,
                        struct crisp_metrics_server **out, struct crisp_err *err)
{
    struct crisp_metrics_server *srv = crisp_xcalloc(1, sizeof(*srv));
    srv->gauges = gauges;
    srv->ctx = ctx;
    srv->listen_fd = srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->idle, NULL);
    int r = bind_listener(address, &srv->listen_fd, &srv->port, err);
    if (r == 0 && pipe2(srv->stop_pipe, O_CLOEXEC) < 0)
        r = crisp_syserrf(err, errno, "pipe2");
    if (r == 0) {
        int e = pthread_create(&srv->thread, NULL, serve_main, srv);
        if (e != 0)
            r = crisp_syserrf(err, e, "start the metrics thread");
    }
    if (r < 0) {
        if (srv->listen_fd >= 0)
            close(srv->listen_fd);
        for (int i = 0; i < 2; i++)
            if (srv->stop_pipe[i] >= 0)
                close(srv->stop_pipe[i]);
        pthread_mutex_destroy(&srv->lock);
        pthread_cond_destroy(&srv->idle);
        free(srv);
        return r;
    }
    log_info("metrics", "serving /metrics on %s (port %d)", address, srv->port);
    *out = srv;
    return 0;
}

int crisp_metrics_port(const struct crisp_metrics_server *srv)
{
    return srv->port;
}

void crisp_metrics_stop(struct crisp_metrics_server *srv)
{
    if (!srv)
        return;
    char byte = 0;
    if (write(srv->stop_pipe[1], &byte, 1) < 0)
        log_warn("metrics", "stop: %s", strerror(errno));
    pthread_join(srv->thread, NULL);
    pthread_mutex_lock(&srv->lock); /* connections end within IO_TIMEOUT_S */
    while (srv->active > 0)
        pthread_cond_wait(&srv->idle, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->idle);
    close(srv->listen_fd);
    close(srv->stop_pipe[0]);
    close(srv->stop_pipe[1]);
    free(srv);
}
