/* The monitor's side of the attach socket (protocol: monitor/attach.h): a listening
 * SOCK_SEQPACKET socket at <dir>/attach.sock and up to CRISP_ATTACH_CLIENTS clients, all
 * non-blocking, driven by the monitor's poll loop.
 *
 * Output is sent to every client as it is read (the CRI log is written by the caller, not
 * here). The per-client buffer is the client socket's send buffer, in the kernel (so it costs
 * the monitor no memory): CRISP_ATTACH_CLIENT_BUFFER as SO_SNDBUF (the kernel doubles it for
 * its bookkeeping; without CAP_NET_ADMIN it is capped at net.core.wmem_max). A send that would
 * block drops that client: it missed output and cannot be served without gaps. Stdin records are
 * written to the container's stdin without blocking: what the container does not take yet is
 * kept (one record at most) and no client is read until it is written, so a container that
 * does not read its stdin pushes back on the senders, never on the monitor. A client beyond
 * CRISP_ATTACH_CLIENTS is closed at once. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/attach.h"
#include "util/err.h"

#define CRISP_ATTACH_CLIENTS       16
#define CRISP_ATTACH_CLIENT_BUFFER (1 << 20)
#define CRISP_ATTACH_POLLFDS       (CRISP_ATTACH_CLIENTS + 2) /* listener, clients, container stdin */

struct crisp_attach_client {
    int fd;
    bool has_stdin; /* announced or sent stdin: its end counts for stdin_once */
};

struct crisp_attach_server {
    /* set by the owner between init and listen: */
    const char *ident; /* not owned: the container id, for logs */
    int stdin_fd;      /* owned: the container's stdin pipe (write end) or a pty master dup */
    int pty_fd;        /* owned: a pty master dup for resize (tty only) */
    bool stdin_once;
    /* the server's own: */
    int listen_fd;
    char *dir;          /* owned */
    bool stdin_done;    /* stdin_once: the container's stdin was closed (or is to be, below) */
    bool close_pending; /* close the container's stdin once pending is written */
    char *pending;      /* stdin not written yet (CRISP_ATTACH_PAYLOAD_MAX bytes, lazily) */
    size_t pending_off, pending_len;
    struct crisp_attach_client clients[CRISP_ATTACH_CLIENTS];
};

/* An empty server: every fd -1, nothing to close. */
void crisp_attach_server_init(struct crisp_attach_server *s);

/* Binds <dir>/attach.sock (0600) and listens; makes stdin_fd non-blocking. */
int crisp_attach_server_listen(struct crisp_attach_server *s, const char *dir,
                               struct crisp_err *err);

/* Appends the pollfds to fds (room for CRISP_ATTACH_POLLFDS); returns how many. */
size_t crisp_attach_server_pollfds(const struct crisp_attach_server *s, struct pollfd *fds);

/* Handles poll results for those pollfds. */
void crisp_attach_server_dispatch(struct crisp_attach_server *s, const struct pollfd *fds,
                                  size_t n);

/* Sends len bytes of output (kind STDOUT or STDERR) to every client. */
void crisp_attach_server_output(struct crisp_attach_server *s, enum crisp_attach_kind kind,
                                const char *data, size_t len);

/* The container is gone and its output drained: EXIT with code to every client, then every
 * socket is closed and the socket file removed. */
void crisp_attach_server_exit(struct crisp_attach_server *s, int32_t code);

/* Closes everything (the container's stdin too) and removes the socket file. Idempotent. */
void crisp_attach_server_close(struct crisp_attach_server *s);
