/* The channel between the caller and the processes it spawns: a SOCK_SEQPACKET socketpair,
 * close-on-exec on both ends, so a successful execve in the container closes it (EOF = the exec
 * happened). One message per packet, at most one fd attached (SCM_RIGHTS). */
#pragma once

#include <stdint.h>

#include "util/err.h"

enum crisp_rt_msg_type {
    CRISP_RT_MSG_PID = 1, /* helper -> caller: value = the new process's pid */
    CRISP_RT_MSG_PTY,     /* child -> caller: the pty master is attached */
    CRISP_RT_MSG_READY,   /* child -> caller: set up, waiting for START */
    CRISP_RT_MSG_START,   /* caller -> child: execve now */
    CRISP_RT_MSG_ERROR,   /* helper or child -> caller: value = errno, code + text */
};

struct crisp_rt_msg {
    uint32_t type;
    int32_t value;
    int32_t code;
    char text[CRISP_ERR_MSG_MAX];
};

/* fds[0] for the caller, fds[1] for the children; both >= 3 and close-on-exec. */
int crisp_rt_sync_pair(int fds[2], struct crisp_err *err);

/* Sends a message without text; passfd >= 0 is attached. 0 or -errno. */
int crisp_rt_sync_send(int fd, enum crisp_rt_msg_type type, int32_t value, int passfd);

/* Sends an ERROR carrying errnum (> 0) and err's code and message. 0 or -errno. */
int crisp_rt_sync_send_error(int fd, int errnum, const struct crisp_err *err);

/* Receives one message: 1 (an attached fd, close-on-exec, goes to *passfd when passfd is not
 * NULL, else is closed), 0 at EOF, -errno. */
int crisp_rt_sync_recv(int fd, struct crisp_rt_msg *msg, int *passfd);

/* Copies an ERROR message into err; returns -errno. */
int crisp_rt_msg_to_err(const struct crisp_rt_msg *msg, struct crisp_err *err);

/* Moves fd to a number >= 3 (keeping it close-on-exec) so dup2 onto 0-2 cannot clobber it.
 * Returns the fd, or -errno. */
int crisp_rt_fd_above_stdio(int fd);
