/* Attach: a connection to a running container's monitor (protocol: monitor/attach.h), for the
 * streaming server's Attach. */
#pragma once

#include <stdbool.h>

#include "container/lifecycle.h"

/* Opens an attach connection to a running container. want_stdin requires the container
   to have been created with stdin (else FAILED_PRECONDITION saying so); tty must match its
   config (else INVALID_ARGUMENT); not running: FAILED_PRECONDITION; unknown: NOT_FOUND.
   *fd: a blocking SOCK_SEQPACKET socket, close-on-exec, owned by the caller; with want_stdin
   the client is already announced as one that sends stdin (what stdin_once counts). */
int crisp_ctr_attach(const struct crisp_ctr_env *env, const char *id, bool want_stdin, bool tty,
                     int *fd, struct crisp_err *err);

/* The checks of crisp_ctr_attach without connecting (the Attach call validates before it hands
 * out a URL; connecting would count as a stdin client). *full_id: the container's id. */
int crisp_ctr_attach_check(const struct crisp_ctr_env *env, const char *id, bool want_stdin,
                           bool tty, char full_id[CRISP_CTR_ID_LEN + 1], struct crisp_err *err);
