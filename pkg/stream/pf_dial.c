/* The socket is created by a short-lived thread that joins the pod's network namespace
 * (setns of a network namespace affects only the calling thread); a socket stays in the
 * namespace it was created in, so crispd connects it from its own thread afterwards. */
#define _GNU_SOURCE
#include "stream/pf_dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/mem.h"

#define CONNECT_TIMEOUT_MS 5000

struct socket_in_ns {
    const char *netns; /* NULL: the host's */
    int fd;
    int errnum;
    const char *step;
};

static void *make_socket(void *p)
{
    struct socket_in_ns *a = p;
    if (a->netns) {
        int ns = open(a->netns, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
            a->errnum = errno;
            a->step = ns < 0 ? "open netns" : "setns";
            if (ns >= 0)
                close(ns);
            return NULL;
        }
        close(ns);
    }
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (a->fd < 0) {
        a->errnum = errno;
        a->step = "socket";
    }
    return NULL;
}

static int socket_in(const char *netns, int *fd, struct crisp_err *err)
{
    struct socket_in_ns a = {.netns = netns, .fd = -1};
    pthread_t t;
    int e = netns ? pthread_create(&t, NULL, make_socket, &a) : 0;
    if (e != 0)
        return crisp_syserrf(err, e, "port-forward: pthread_create");
    if (netns)
        pthread_join(t, NULL);
    else
        make_socket(&a);
    if (a.fd < 0)
        return crisp_syserrf(err, a.errnum, "port-forward: %s %s", a.step, netns ? netns : "");
    *fd = a.fd;
    return 0;
}

static int connect_loopback(int fd, uint16_t port, const char *pod_id, struct crisp_err *err)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (r < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = ETIMEDOUT;
        socklen_t len = sizeof(soerr);
        if (poll(&p, 1, CONNECT_TIMEOUT_MS) == 1)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        errno = soerr;
        r = soerr ? -1 : 0;
    }
    if (r < 0)
        return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, errno,
                            "connect 127.0.0.1:%u in pod %s: %s", port, pod_id, strerror(errno));
    return 0;
}

int crisp_pod_dial(struct crisp_pod_store *pods, const char *pod_id, uint16_t port, int *fd,
                   struct crisp_err *err)
{
    struct crisp_pod *pod;
    int r = crisp_pod_store_get(pods, pod_id, &pod, err);
    if (r < 0)
        return r;
    bool host = crisp_pod_ns_mode(pod, 'n') == RUNTIME__V1__NAMESPACE_MODE__NODE;
    _cleanup_free_ char *netns = host ? NULL : crisp_xasprintf("%s/ns/net", pod->dir);
    char id[CRISP_ID_LEN + 1];
    memcpy(id, pod->id, sizeof(id));
    crisp_pod_put(pods, pod);
    int s = -1;
    r = socket_in(netns, &s, err);
    if (r == 0)
        r = connect_loopback(s, port, id, err);
    if (r < 0) {
        if (s >= 0)
            close(s);
        return r;
    }
    *fd = s;
    return 0;
}
