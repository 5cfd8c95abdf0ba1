/* v1 hierarchies from /proc/self/mountinfo (proc(5)):
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * fields 5 (mount point) and, after " - ", fstype and super options. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define MOUNTINFO_MAX (4u << 20)
#define MAX_FIELDS    64

/* Undoes the octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* Splits line at spaces; returns the field count (at most MAX_FIELDS). */
static size_t split(char *line, char **f)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < MAX_FIELDS;
         t = strtok_r(NULL, " ", &save))
        f[n++] = t;
    return n;
}

/* One line: a v1 cgroup mount is added, a cgroup2 mount point remembered. */
static void scan_line(struct crisp_cgroup_root *root, char *line, char **cgroup2)
{
    char *f[MAX_FIELDS];
    size_t n = split(line, f), dash = 6;
    while (dash < n && strcmp(f[dash], "-") != 0)
        dash++;
    if (dash + 1 >= n)
        return;
    const char *fstype = f[dash + 1];
    char *mount = f[4];
    unescape(mount);
    if (strcmp(fstype, "cgroup") == 0 && dash + 3 < n)
        cg_root_add_v1(root, mount, cg_root_v1_bits(f[dash + 3]));
    else if (strcmp(fstype, "cgroup2") == 0 && !*cgroup2)
        *cgroup2 = crisp_xstrdup(mount);
}

int cg_mountinfo_scan(struct crisp_cgroup_root *root, const char *file, struct crisp_err *err)
{
    _cleanup_free_ char *text = NULL;
    int r = crisp_read_file(file, MOUNTINFO_MAX, &text, NULL, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *cgroup2 = NULL;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        scan_line(root, line, &cgroup2);
    return cgroup2 ? cg_root_add_hybrid(root, cgroup2, err) : 0;
}
