/* File-system helpers with the project's error convention. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* mkdir -p: creates missing directories with mode; existing ones are kept. */
int crisp_mkdir_p(const char *path, mode_t mode, struct crisp_err *err);

/* Writes data to path atomically: a temp file in the same directory, fsync,
 * rename, fsync of the directory. Readers see the old or the new file whole. */
int crisp_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            struct crisp_err *err);

/* Reads a whole file of at most max_size bytes into a NUL-terminated malloc'd
 * buffer. -ENOENT (with err filled) when the file does not exist. */
int crisp_read_file(const char *path, size_t max_size, char **out, size_t *out_len,
                    struct crisp_err *err);
