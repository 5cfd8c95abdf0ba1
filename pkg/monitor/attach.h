/* Attach: the wire protocol of a monitor's attach socket, <dir>/attach.sock (0600), and its
 * client calls (for crispd's streaming server and the tests). The monitor's side is
 * monitor/attach_server.h.
 *
 * The socket is AF_UNIX SOCK_SEQPACKET. Every message is one record: the first byte is the
 * kind, the rest the payload (at most CRISP_ATTACH_PAYLOAD_MAX bytes).
 *
 *   monitor -> client   STDOUT, STDERR   the container's output from the moment the client
 *                                        attached (a tty container has one stream: STDOUT);
 *                                        never empty
 *                       EXIT             int32 exit code (host order) once the container has
 *                                        exited and its output is drained; then EOF
 *   client -> monitor   STDIN            bytes for the container's stdin (pipe or pty); an
 *                                        empty STDIN record announces a client that will send
 *                                        stdin (crisp_ctr_attach sends it when asked for stdin)
 *                       STDIN_CLOSE      this client is done with stdin
 *                       RESIZE           uint16 width, uint16 height (host order): TIOCSWINSZ
 *                                        on the pty; ignored without a tty
 *
 * Several clients may be attached at once; stdin from any of them goes to the container. When
 * the container was created with stdin_once, the first client that has announced or sent stdin
 * and then sends STDIN_CLOSE or disconnects closes the container's stdin for good (a pipe gets
 * EOF; a pty gets the VEOF character). A client the monitor cannot send to at once (its socket
 * buffer is full: it does not read fast enough) is dropped, so it never slows the container or
 * its log. A record of an unknown kind, a malformed RESIZE, or one too large drops the client. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define CRISP_ATTACH_SOCK_NAME   "attach.sock"
#define CRISP_ATTACH_PAYLOAD_MAX 32768

enum crisp_attach_kind {
    CRISP_ATTACH_STDIN = 0,
    CRISP_ATTACH_STDOUT = 1,
    CRISP_ATTACH_STDERR = 2,
    CRISP_ATTACH_EXIT = 3,   /* int32 exit code, then EOF */
    CRISP_ATTACH_RESIZE = 4, /* uint16 width, uint16 height, host order */
    CRISP_ATTACH_STDIN_CLOSE = 5,
};

/* Sends one record (len <= CRISP_ATTACH_PAYLOAD_MAX, else INVALID_ARGUMENT). Never raises
 * SIGPIPE. On a non-blocking fd a full socket is -EAGAIN; a peer gone is -EPIPE (UNAVAILABLE). */
int crisp_attach_send(int fd, enum crisp_attach_kind kind, const void *buf, size_t len,
                      struct crisp_err *err);

/* Receives one record into buf (cap bytes): returns the payload length and sets *kind; 0 at
 * EOF (*kind then untouched: records from the monitor are never empty). A record larger than
 * cap is -EMSGSIZE; on a non-blocking fd nothing there is -EAGAIN. */
ssize_t crisp_attach_recv(int fd, enum crisp_attach_kind *kind, void *buf, size_t cap,
                          struct crisp_err *err);

/* Connects to the attach socket of the monitor of ctr_dir (the container's state dir, any
 * length): a blocking, close-on-exec fd. No monitor listening: UNAVAILABLE. */
int crisp_monitor_attach_connect(const char *ctr_dir, struct crisp_err *err);
