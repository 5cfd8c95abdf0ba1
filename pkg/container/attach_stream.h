/* Attach for the streaming server: the monitor's attach socket (monitor/attach.h) driven
 * through struct crisp_stream_io. Ending the session never stops the container. */
#pragma once

#include <stdbool.h>

#include "container/lifecycle.h"
#include "container/stream_io.h"

int crisp_ctr_attach_stream(const struct crisp_ctr_env *env, const char *id, bool want_stdin,
                            bool tty, struct crisp_stream_io **out, struct crisp_err *err);
