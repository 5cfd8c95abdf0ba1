#define _GNU_SOURCE
#include "container/user.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/mem.h"

#define DB_MAX (4u << 20)

static bool is_whiteout(int dirfd, const char *path)
{
    struct stat st;
    return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
           major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

static int read_all(int fd, size_t max, char **data)
{
    size_t cap = 4096, len = 0;
    char *buf = crisp_xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= max) {
                free(buf);
                return -EFBIG;
            }
            cap *= 2;
            buf = crisp_xrealloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *data = buf;
    return 0;
}

int crisp_layers_read_file(char *const *layers, size_t n_layers, const char *path, size_t max_size,
                           char **data, struct crisp_err *err)
{
    for (size_t i = n_layers; i-- > 0;) {
        _cleanup_close_ int root = open(layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
            return crisp_syserrf(err, errno, "open layer %s", layers[i]);
        if (is_whiteout(root, path))
            break;
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
        _cleanup_close_ int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
        if (fd < 0)
            continue; /* not in this layer (or not a plain file): look below */
        int r = read_all(fd, max_size, data);
        if (r < 0)
            return crisp_syserrf(err, -r, "read /%s of the image", path);
        return 0;
    }
    return crisp_errorf(err, GRPC_STATUS_NOT_FOUND, ENOENT, "the image has no /%s", path);
}

static bool parse_id(const char *s, int64_t *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0 || v > 0xfffffffeLL)
        return false;
    *out = v;
    return true;
}

/* Field k (0-based) of a ':'-separated line, copied into buf. */
static const char *field(const char *line, int k, char *buf, size_t size)
{
    const char *p = line;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    if (!p)
        return NULL;
    size_t len = strcspn(p, ":\n");
    if (len >= size)
        len = size - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

/* Finds the line of db whose field key_field equals key; returns it or NULL. */
static const char *find_line(const char *db, int key_field, const char *key)
{
    char buf[256];
    for (const char *line = db; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *f = field(line, key_field, buf, sizeof(buf));
        if (f && strcmp(f, key) == 0)
            return line;
    }
    return NULL;
}

static bool user_in_member_list(const char *members, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = members; *p;) {
        size_t len = strcspn(p, ",");
        if (len == nlen && strncmp(p, name, nlen) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static void add_group(struct crisp_user *u, gid_t g)
{
    for (size_t i = 0; i < u->n_groups; i++)
        if (u->groups[i] == g)
            return;
    u->groups = crisp_xrealloc(u->groups, (u->n_groups + 1) * sizeof(gid_t));
    u->groups[u->n_groups++] = g;
}

static void add_member_groups(struct crisp_user *u, const char *group_db, const char *name)
{
    char members[4096], gid[32];
    for (const char *line = group_db; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        int64_t g;
        if (field(line, 3, members, sizeof(members)) && user_in_member_list(members, name) &&
            field(line, 2, gid, sizeof(gid)) && parse_id(gid, &g))
            add_group(u, (gid_t)g);
    }
}

static int lookup_group(const char *group_db, const char *spec, gid_t *gid, struct crisp_err *err)
{
    int64_t v;
    if (parse_id(spec, &v)) {
        *gid = (gid_t)v;
        return 0;
    }
    char buf[32];
    const char *line = group_db ? find_line(group_db, 0, spec) : NULL;
    if (!line || !field(line, 2, buf, sizeof(buf)) || !parse_id(buf, &v))
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "group \"%s\" not found in the image's /etc/group", spec);
    *gid = (gid_t)v;
    return 0;
}

/* Sets uid, gid and the user's name from a name or number and passwd. */
static int lookup_user(const char *passwd, const char *spec, struct crisp_user *u, char *name,
                       size_t name_size, struct crisp_err *err)
{
    int64_t v;
    char buf[32];
    bool numeric = parse_id(spec, &v);
    const char *line = passwd ? find_line(passwd, numeric ? 2 : 0, spec) : NULL;
    if (!line && !numeric)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, ENOENT,
                            "user \"%s\" not found in the image's /etc/passwd", spec);
    if (line) {
        int64_t uid = 0, gid = 0;
        if (!field(line, 2, buf, sizeof(buf)) || !parse_id(buf, &uid) ||
            !field(line, 3, buf, sizeof(buf)) || !parse_id(buf, &gid))
            return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                                "the image's /etc/passwd entry for \"%s\" is malformed", spec);
        u->uid = (uid_t)uid;
        u->gid = (gid_t)gid;
        field(line, 0, name, name_size);
    } else { /* a uid without a passwd entry: gid 0, like docker */
        u->uid = (uid_t)v;
        u->gid = 0;
        name[0] = '\0';
    }
    return 0;
}

int crisp_user_resolve(char *const *layers, size_t n_layers, const struct crisp_user_request *req,
                       struct crisp_user *out, struct crisp_err *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *passwd = NULL, *group = NULL;
    struct crisp_err ignored;
    crisp_layers_read_file(layers, n_layers, "etc/passwd", DB_MAX, &passwd, &ignored);
    crisp_layers_read_file(layers, n_layers, "etc/group", DB_MAX, &group, &ignored);
    char spec[256] = "0", group_spec[256] = "", name[256];
    if (req->has_uid)
        snprintf(spec, sizeof(spec), "%lld", (long long)req->uid);
    else if (req->username && *req->username)
        snprintf(spec, sizeof(spec), "%s", req->username);
    else if (req->image_user && *req->image_user)
        sscanf(req->image_user, "%255[^:]:%255s", spec, group_spec);
    int r = lookup_user(passwd, spec, out, name, sizeof(name), err);
    if (r == 0 && req->has_gid)
        out->gid = (gid_t)req->gid;
    else if (r == 0 && *group_spec)
        r = lookup_group(group, group_spec, &out->gid, err);
    if (r < 0)
        return r;
    if (!req->strict && *name && group)
        add_member_groups(out, group, name);
    for (size_t i = 0; i < req->n_supplemental; i++)
        add_group(out, (gid_t)req->supplemental[i]);
    return 0;
}

void crisp_user_free(struct crisp_user *u)
{
    free(u->groups);
    memset(u, 0, sizeof(*u));
}
