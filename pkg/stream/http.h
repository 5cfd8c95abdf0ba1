/* The HTTP/1.1 request that opens a streaming connection, and the plain responses (errors,
 * 101 Switching Protocols) the server writes before the upgrade. */
#pragma once

#include <stddef.h>

#include "util/err.h"

#define CRISP_HTTP_MAX_HEAD    8192
#define CRISP_HTTP_MAX_HEADERS 64

struct crisp_http_header {
    char *name, *value; /* point into head; the name as sent, value trimmed */
};

struct crisp_http_request {
    char head[CRISP_HTTP_MAX_HEAD + 1];
    char *method, *path, *query; /* query: after '?', NULL when none */
    struct crisp_http_header headers[CRISP_HTTP_MAX_HEADERS];
    size_t n_headers;
    char extra[CRISP_HTTP_MAX_HEAD]; /* bytes read past the head (the upgraded protocol's) */
    size_t n_extra;
};

/* Reads and parses the request head, for at most timeout_ms, giving up at once when stop_fd
 * becomes readable. Errors: INVALID_ARGUMENT (malformed, 400), RESOURCE_EXHAUSTED (too large,
 * 431), DEADLINE_EXCEEDED (too slow) or CANCELLED (stopping). */
int crisp_http_read_request(int fd, int stop_fd, int timeout_ms, struct crisp_http_request *req,
                            struct crisp_err *err);
/* The first value of a header (case-insensitive name), or NULL. */
const char *crisp_http_header(const struct crisp_http_request *req, const char *name);
/* Every value of a header, comma-separated lists split, in order; returns how many. */
size_t crisp_http_header_values(const struct crisp_http_request *req, const char *name, char *buf,
                                size_t buf_size, const char **values, size_t cap);
/* Writes a complete response with a text body (Connection: close), then ends the
 * connection gracefully (crisp_linger_close). extra_headers: zero or more "Name: value\r\n"
 * lines. */
int crisp_http_respond(int fd, int status, const char *extra_headers, const char *body);
const char *crisp_http_reason(int status);
