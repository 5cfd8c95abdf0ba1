/* File helpers for unit tests: each fails the test on error (but
 * sup_remove_tree, which is best effort).
 * Linked from build/tests/libsupport.a: a test program takes only what it uses. */
#pragma once

#include <sys/types.h>

#define SUP_OUTPUT_MAX 65536 /* what sup_read_all keeps */

void sup_mkdir(const char *path); /* an existing one is fine */
void sup_write_file(const char *path, const char *data);
void sup_copy_file(const char *from, const char *to, mode_t mode);
/* Best effort, does not cross mounts: 0, or -1 if something could not be removed. */
int sup_remove_tree(const char *path);
void sup_assert_contains(const char *haystack, const char *needle);
/* Reads fd until EOF (or EIO: a pty whose slave is gone), at most 5 s per read; malloc'd. */
char *sup_read_all(int fd);
