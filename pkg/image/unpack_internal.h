/* Internals of the layer unpacker (unpack*.c), one concern per file:
 *   unpack.c          crisp_layer_unpack: the entry loop
 *   unpack_stream.c   the layer as a tar stream, hashed (diff_id) as it is decompressed
 *   unpack_path.c     entry names: normalising, checking, resolving beneath dest
 *   unpack_slot.c     making room for an entry: replacing what a previous entry left
 *   unpack_entry.c    creating directories, symlinks, hard links, fifos and device nodes
 *   unpack_file.c     creating regular files and writing their data
 *   unpack_whiteout.c OCI whiteouts into overlayfs whiteouts
 *   unpack_meta.c     owner, mode, times, xattrs; directory times applied last */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "image/unpack.h"

#define UNPACK_LOG      "unpack"
#define UNPACK_DISP_MAX 200 /* bytes of an entry name quoted in a message */

/* ---- unpack_stream.c ---- */

struct unpack_stream;

/* Starts reading the layer from fd. */
int unpack_stream_open(int fd, struct unpack_stream **out, struct crisp_err *err);
/* 1 and *entry set for the next entry, 0 at the end of the archive, or a negative errno. */
int unpack_stream_next(struct unpack_stream *s, struct archive_entry **entry,
                       struct crisp_err *err);
/* 1 and the next data block of the current entry, 0 at its end, or a negative errno. */
int unpack_stream_data(struct unpack_stream *s, const void **buf, size_t *size, int64_t *offset,
                       struct crisp_err *err);
/* Reads what follows the end of the archive (padding) and writes the digest of the whole
 * uncompressed stream. */
int unpack_stream_finish(struct unpack_stream *s, char diff_id[CRISP_DIFF_ID_SIZE],
                         struct crisp_err *err);
void unpack_stream_free(struct unpack_stream *s);

static inline void unpack_stream_freep(struct unpack_stream **s)
{
    unpack_stream_free(*s);
}
#define _cleanup_stream_ __attribute__((cleanup(unpack_stream_freep)))

/* ---- the state of one unpack ---- */

struct unpack_dir_time {
    char *path; /* relative to dest */
    dev_t dev;
    ino_t ino;
    struct timespec times[2]; /* atime, mtime */
};

struct unpack_ctx {
    int dest_fd; /* O_PATH */
    bool allow_devices;
    struct unpack_stream *stream;
    struct crisp_unpack_stats stats;
    struct unpack_dir_time *dir_times;
    size_t n_dir_times, cap_dir_times;
    struct crisp_err *err;
};

/* ---- unpack_path.c ---- */

/* One entry's place: its normalised path split into parent and final component. */
struct unpack_loc {
    char path[PATH_MAX];            /* relative to dest, no empty or "." components; "" is dest */
    char parent[PATH_MAX];          /* "." for dest */
    const char *name;               /* the final component, in path */
    char disp[UNPACK_DISP_MAX + 4]; /* the entry name as given, printable, cut, for messages */
};

/* Writes s into out (size bytes), control characters as '?', cut with "..." when too long. */
void unpack_quote(const char *s, char *out, size_t size);
/* Fills loc from a tar entry name: leading "/" and "./" stripped. FAILED_PRECONDITION for a
 * component longer than NAME_MAX or a name of PATH_MAX bytes or more. what ("layer entry",
 * "hard link target") starts the messages. */
int unpack_loc_init(struct unpack_loc *loc, const char *raw, const char *what,
                    struct crisp_err *err);
static inline bool unpack_loc_is_root(const struct unpack_loc *loc)
{
    return loc->path[0] == '\0';
}
/* openat2(dest_fd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): an fd or -errno. */
int unpack_resolve(int dest_fd, const char *path, int flags);
/* Turns a failed resolution of loc into an error: EXDEV is "path escapes the layer root". */
int unpack_resolve_error(struct crisp_err *err, int r, const struct unpack_loc *loc,
                         const char *action);
/* An O_PATH fd of loc's parent directory, creating missing directories (0755, root). */
int unpack_open_parent(struct unpack_ctx *ctx, const struct unpack_loc *loc, int *out);

/* ---- unpack_slot.c ---- */

/* Makes room for a new entry name in parent_fd (loc names the entry in messages): anything there
 * is removed (a directory with its contents), except a directory when keep_dir, which is kept
 * (*kept set). */
int unpack_slot_clear(struct unpack_ctx *ctx, int parent_fd, const char *name,
                      const struct unpack_loc *loc, bool keep_dir, bool *kept);

/* ---- unpack_entry.c, unpack_file.c, unpack_whiteout.c ---- */

int unpack_entry(struct unpack_ctx *ctx, struct archive_entry *e);
int unpack_file(struct unpack_ctx *ctx, struct archive_entry *e, const struct unpack_loc *loc);
/* 1 when loc names a whiteout (and it was applied), 0 when it does not, or a negative errno. */
int unpack_whiteout(struct unpack_ctx *ctx, const struct unpack_loc *loc);

/* ---- unpack_meta.c ---- */

/* FAILED_PRECONDITION unless e's owner fits a uid_t/gid_t (and is not -1, "unchanged"). */
int unpack_meta_check(struct archive_entry *e, const struct unpack_loc *loc, struct crisp_err *err);
/* Owner, mode, xattrs of an entry open as fd (a regular file or a directory). Times: set on a
 * file at once, recorded for a directory (see unpack_dir_times_apply). */
int unpack_meta_fd(struct unpack_ctx *ctx, int fd, struct archive_entry *e,
                   const struct unpack_loc *loc);
/* Owner, mode (not for symlinks) and times of loc->name in parent_fd, never following it;
 * xattrs are skipped. */
int unpack_meta_at(struct unpack_ctx *ctx, int parent_fd, struct archive_entry *e,
                   const struct unpack_loc *loc);
/* Sets the recorded directory times: creating entries in a directory changes its mtime, so they
 * are applied after the last entry. */
int unpack_dir_times_apply(struct unpack_ctx *ctx);
void unpack_dir_times_free(struct unpack_ctx *ctx);
