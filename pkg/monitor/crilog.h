/* The CRI container log (what the kubelet reads and rotates):
 *
 *     <RFC3339 UTC time, 9 fraction digits> <stdout|stderr> <F|P> <content>\n
 *
 * e.g. "2024-05-01T12:00:00.123456789Z stdout F hello". A line the container ends with '\n' is
 * one F entry (content without the '\n'); a line longer than CRISP_CRILOG_MAX_LINE bytes is cut
 * into P entries of exactly that size followed by an F entry with the rest; output left without
 * a newline when the stream ends is an F entry. Each entry is one write(2) to a file opened
 * O_APPEND, so entries are never interleaved.
 *
 * Writes that fail (disk full, I/O error) drop the entry, are reported once per failing streak
 * and never block the caller, who keeps draining the container's output. An entry cut short by
 * a failure is ended with a '\n' before the next one so that later entries stay parseable. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

#define CRISP_CRILOG_MAX_LINE 16384

struct crisp_crilog {
    const char *path;  /* not owned; NULL = no log: entries are dropped */
    const char *ident; /* not owned: names the container in warnings */
    int fd;
    bool broken_line; /* the last entry was cut short */
    bool failing;     /* warned about a failing write; cleared by the next success */
};

/* Creates missing parent directories (0755) and opens path O_WRONLY | O_APPEND | O_CREAT |
 * O_CLOEXEC, 0640. path NULL: no log. */
int crisp_crilog_open(struct crisp_crilog *l, const char *path, const char *ident,
                      struct crisp_err *err);

/* Opens the path again (kubelet rotated the file) and swaps the fd; on failure the old fd is
 * kept. */
int crisp_crilog_reopen(struct crisp_crilog *l, struct crisp_err *err);

void crisp_crilog_close(struct crisp_crilog *l);

/* Writes one entry; 0, or -errno when it was dropped. */
int crisp_crilog_write(struct crisp_crilog *l, const struct timespec *ts, const char *stream,
                       bool partial, const char *data, size_t len);

/* One output stream's pending partial line. Read into the room given by
 * crisp_crilog_stream_room, then commit what was read. */
struct crisp_crilog_stream {
    const char *name; /* "stdout" or "stderr" */
    size_t len;
    char buf[CRISP_CRILOG_MAX_LINE + 1]; /* one byte more: a full line may still end in '\n' */
};

char *crisp_crilog_stream_room(struct crisp_crilog_stream *s, size_t *room);

/* Logs every complete line among the n bytes just read (and P entries for overlong ones). */
void crisp_crilog_stream_commit(struct crisp_crilog *l, struct crisp_crilog_stream *s, size_t n);

/* End of the stream: what is left becomes an F entry. */
void crisp_crilog_stream_flush(struct crisp_crilog *l, struct crisp_crilog_stream *s);
