/* Unpacking one OCI image layer (a tar stream: plain, gzip or zstd, detected by content) into an
 * empty directory, in the form crisp later mounts as an overlayfs lowerdir: OCI whiteouts become
 * overlayfs whiteouts (".wh.name" -> a 0:0 character device "name", ".wh..wh..opq" -> the xattr
 * trusted.overlay.opaque=y on its directory).
 *
 * The layer is untrusted input. Every path is resolved beneath dest with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so nothing outside dest is ever created, modified or followed: entries
 * whose path, parent symlinks or hard link target lead out of dest are refused, device nodes are
 * refused unless allowed, only user.* and security.capability xattrs are applied (trusted.* could
 * forge whiteouts), and the final component of an entry is never followed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/err.h"

struct crisp_unpack_options {
    bool allow_devices; /* char/block device nodes: refused unless set */
};

struct crisp_unpack_stats {
    uint64_t files; /* regular files, hard links, symlinks, fifos and device nodes created */
    uint64_t dirs;  /* directory entries (implicitly created parents are not counted) */
    uint64_t bytes; /* regular file content written */
};

/* "sha256:<64 hex>" and its NUL */
#define CRISP_DIFF_ID_SIZE (CRISP_DIGEST_LEN + 1)

/* Unpacks the layer read from layer_fd (from its current offset to end of file; a pipe works) into
 * dest, an existing, empty directory. opts may be NULL (the defaults: all false).
 *
 * Returns 0, or a negative errno with err set: FAILED_PRECONDITION for a layer that is hostile or
 * malformed (e.g. layer entry "../x": path escapes the layer root; layer is not a valid tar
 * stream: ...), INTERNAL for local I/O failures. On failure dest may hold a partial tree: the
 * caller removes it.
 *
 * stats (when not NULL) receives the counts. diff_id_out (when not NULL) receives the sha256 of
 * the whole uncompressed tar stream, "sha256:<hex>", to check against the image config's
 * rootfs.diff_ids; it is computed in the same single pass that unpacks. */
int crisp_layer_unpack(int layer_fd, const char *dest, const struct crisp_unpack_options *opts,
                       struct crisp_unpack_stats *stats, char diff_id_out[CRISP_DIFF_ID_SIZE],
                       struct crisp_err *err);
