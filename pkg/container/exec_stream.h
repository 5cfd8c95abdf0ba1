/* Exec for the streaming server: a command started in a running container with pipes (or a
 * pty), driven through struct crisp_stream_io. */
#pragma once

#include <stdbool.h>

#include "container/lifecycle.h"
#include "container/stream_io.h"

struct crisp_exec_stream_opts {
    bool tty, want_stdin, want_stdout, want_stderr;
    uint16_t tty_width, tty_height; /* the client's terminal size when known, else 0x0 */
};

/* A command that cannot run is not an error here: it "exits" 127/126 with the reason on its
 * stderr (stdout with a tty), as ExecSync answers. */
int crisp_ctr_exec_stream(const struct crisp_ctr_env *env, const char *id, char *const *argv,
                          const struct crisp_exec_stream_opts *opts, struct crisp_stream_io **out,
                          struct crisp_err *err);
