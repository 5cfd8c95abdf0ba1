#include <errno.h>

#include "stream/session.h"

int crisp_ws_serve(struct crisp_stream_session *s)
{
    return crisp_http_respond(s->fd, 400, NULL, "websocket is not supported yet");
}
