#define _GNU_SOURCE
#include "stream/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/address.h"
#include "stream/conn.h"
#include "stream/token.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/thread.h"

#define MAX_CONNECTIONS 256

struct crisp_stream_server {
    const struct crisp_ctr_env *env;
    struct crisp_token_store tokens;
    int listen_fd;
    int stop_pipe[2]; /* written once at stop; every poll includes the read end */
    int idle_timeout_ms;
    char *base_url; /* http://host:port */
    pthread_t accept_thread;
    pthread_mutex_t lock;
    pthread_cond_t idle; /* signalled when a connection ends */
    int n_conns;
};

struct conn_arg {
    struct crisp_stream_server *srv;
    int fd;
};

static void *conn_main(void *p)
{
    struct conn_arg *a = p;
    struct crisp_stream_server *srv = a->srv;
    struct crisp_conn_ctx ctx = {.fd = a->fd,
                                 .stop_fd = srv->stop_pipe[0],
                                 .idle_timeout_ms = srv->idle_timeout_ms,
                                 .env = srv->env,
                                 .tokens = &srv->tokens};
    free(a);
    crisp_conn_serve(&ctx);
    close(ctx.fd);
    pthread_mutex_lock(&srv->lock);
    srv->n_conns--;
    pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void start_conn(struct crisp_stream_server *srv, int fd)
{
    pthread_mutex_lock(&srv->lock);
    bool room = srv->n_conns < MAX_CONNECTIONS;
    if (room)
        srv->n_conns++;
    pthread_mutex_unlock(&srv->lock);
    if (!room) {
        log_warn("stream", "%d connections open, refusing another", MAX_CONNECTIONS);
        close(fd);
        return;
    }
    struct conn_arg *a = crisp_xmalloc(sizeof(*a));
    *a = (struct conn_arg){srv, fd};
    int r = crisp_thread_start_detached(conn_main, a);
    if (r != 0) {
        log_error("stream", "pthread_create: %s", strerror(r));
        free(a);
        close(fd);
        pthread_mutex_lock(&srv->lock);
        srv->n_conns--;
        pthread_mutex_unlock(&srv->lock);
    }
}

static void *accept_main(void *p)
{
    struct crisp_stream_server *srv = p;
    for (;;) {
        struct pollfd pf[2] = {{.fd = srv->listen_fd, .events = POLLIN},
                               {.fd = srv->stop_pipe[0], .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("stream", "poll: %s", strerror(errno));
            return NULL;
        }
        if (pf[1].revents)
            return NULL;
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                log_warn("stream", "accept: %s", strerror(errno));
            continue;
        }
        start_conn(srv, fd);
    }
}

static int listen_on(const char *host, int port, int *fd_out, struct sockaddr_storage *bound,
                     struct crisp_err *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    int g = getaddrinfo(host, port_s, &hints, &ai);
    if (g != 0)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "stream_address: resolve %s: %s", host, gai_strerror(g));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int r = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0)
        r = crisp_syserrf(err, errno, "stream server: listen on %s:%d", host, port);
    freeaddrinfo(ai);
    socklen_t len = sizeof(*bound);
    if (r == 0 && getsockname(fd, (struct sockaddr *)bound, &len) < 0)
        r = crisp_syserrf(err, errno, "stream server: getsockname");
    if (r < 0) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    *fd_out = fd;
    return 0;
}

/* The URL base clients dial: the address as bound, with the port the kernel chose. */
static char *base_url(const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        return crisp_xasprintf("http://[%s]:%d", ip, ntohs(s6->sin6_port));
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    return crisp_xasprintf("http://%s:%d", ip, ntohs(s4->sin_port));
}

int crisp_stream_server_start(const struct crisp_config *cfg, const struct crisp_ctr_env *env,
                              struct crisp_stream_server **out, struct crisp_err *err)
{
    char host[256];
    int port;
    int r =
        crisp_address_split(cfg->stream_address, host, sizeof(host), &port, "stream_address", err);
    if (r < 0)
        return r;
    struct crisp_stream_server *srv = crisp_xcalloc(1, sizeof(*srv));
    srv->env = env;
    srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    srv->idle_timeout_ms =
        cfg->stream_idle_timeout_seconds > 0 ? (int)(cfg->stream_idle_timeout_seconds * 1000) : -1;
    struct sockaddr_storage bound;
    r = listen_on(host, port, &srv->listen_fd, &bound, err);
    if (r < 0) {
        free(srv);
        return r;
    }
    if (pipe2(srv->stop_pipe, O_CLOEXEC) < 0) {
        r = crisp_syserrf(err, errno, "stream server: pipe");
        close(srv->listen_fd);
        free(srv);
        return r;
    }
    crisp_token_store_init(&srv->tokens, cfg->stream_token_ttl_seconds);
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->idle, NULL);
    srv->base_url = base_url(&bound);
    int e = pthread_create(&srv->accept_thread, NULL, accept_main, srv);
    if (e != 0) {
        crisp_stream_server_stop(srv); /* safe: joins nothing that was not started */
        return crisp_syserrf(err, e, "stream server: pthread_create");
    }
    log_info("stream", "streaming server on %s", srv->base_url);
    *out = srv;
    return 0;
}

void crisp_stream_server_stop(struct crisp_stream_server *srv)
{
    if (!srv)
        return;
    if (write(srv->stop_pipe[1], "x", 1) < 0)
        log_error("stream", "stop: write: %s", strerror(errno));
    if (srv->accept_thread)
        pthread_join(srv->accept_thread, NULL);
    pthread_mutex_lock(&srv->lock);
    while (srv->n_conns > 0)
        pthread_cond_wait(&srv->idle, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    close(srv->listen_fd);
    close(srv->stop_pipe[0]);
    close(srv->stop_pipe[1]);
    crisp_token_store_free(&srv->tokens);
    pthread_cond_destroy(&srv->idle);
    pthread_mutex_destroy(&srv->lock);
    free(srv->base_url);
    free(srv);
}

int crisp_stream_server_url(struct crisp_stream_server *srv, const struct crisp_stream_request *req,
                            char **url, struct crisp_err *err)
{
    char token[CRISP_STREAM_TOKEN_LEN + 1];
    int r = crisp_token_issue(&srv->tokens, req, token, err);
    if (r < 0)
        return r;
    *url = crisp_xasprintf("%s/%s/%s", srv->base_url, crisp_stream_kind_route(req->kind), token);
    return 0;
}
