/* pkg/image/unpack: layers built here with libarchive's writer, unpacked into a fresh directory.
 * Each test gets a box, /tmp/crisp-unpack-XXXXXX, holding dest, the layer file and a canary;
 * hostile layers must be refused and leave the box as it was. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/capability.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/digest.h"
#include "image/unpack.h"
#include "support_fs.h"
#include "support_fs.h"

#define CANARY "canary\n"

enum compression { PLAIN, GZIP, ZSTD };

struct xattr {
    const char *name;
    const void *value;
    size_t len;
};

/* One entry of a test layer; unset fields take defaults (a 0644 regular file, root-owned). */
struct ent {
    const char *path;
    unsigned type;    /* AE_IFREG when 0 */
    unsigned perm;    /* 0644 (0755 for directories) when 0 */
    const char *data; /* file content or symlink target */
    size_t len;       /* of data when it holds NULs; strlen(data) when 0 */
    const char *link; /* hard link target */
    int64_t uid, gid;
    time_t mtime;
    unsigned major, minor;
    struct xattr xattrs[4];
};

struct fixture {
    char box[64];
    char dest[96];
    char layer[96];
    char canary[96];
    struct archive *w; /* the layer being written, into tar */
    char *tar;
    size_t tar_len, tar_cap;
    struct crisp_unpack_options opts;
    struct crisp_unpack_stats stats;
    char diff_id[CRISP_DIFF_ID_SIZE];
    struct crisp_err err;
};

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->box, "/tmp/crisp-unpack-XXXXXX");
    assert_non_null(mkdtemp(f->box));
    snprintf(f->dest, sizeof(f->dest), "%s/dest", f->box);
    snprintf(f->layer, sizeof(f->layer), "%s/layer", f->box);
    snprintf(f->canary, sizeof(f->canary), "%s/canary", f->box);
    assert_int_equal(mkdir(f->dest, 0755), 0);
    write_file(f->canary, CANARY, strlen(CANARY));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->w)
        archive_write_free(f->w);
    sup_remove_tree(f->box);
    free(f->tar);
    free(f);
    return 0;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- building layers ---- */

static la_ssize_t tar_append(struct archive *a, void *data, const void *buf, size_t len)
{
    (void)a;
    struct fixture *f = data;
    if (f->tar_len + len > f->tar_cap) {
        f->tar_cap = (f->tar_len + len) * 2;
        f->tar = realloc(f->tar, f->tar_cap);
        assert_non_null(f->tar);
    }
    memcpy(f->tar + f->tar_len, buf, len);
    f->tar_len += len;
    return (la_ssize_t)len;
}

static void entry_fill(struct archive_entry *e, const struct ent *s)
{
    unsigned type = s->type ? s->type : AE_IFREG;
    archive_entry_set_pathname(e, s->path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, s->perm ? s->perm : type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_uid(e, s->uid);
    archive_entry_set_gid(e, s->gid);
    archive_entry_set_mtime(e, s->mtime ? s->mtime : 1600000000, 0);
    archive_entry_set_rdevmajor(e, s->major);
    archive_entry_set_rdevminor(e, s->minor);
    if (type == AE_IFLNK)
        archive_entry_set_symlink(e, s->data);
    if (s->link)
        archive_entry_set_hardlink(e, s->link);
    for (int i = 0; i < 4 && s->xattrs[i].name; i++)
        archive_entry_xattr_add_entry(e, s->xattrs[i].name, s->xattrs[i].value,
                                      s->xattrs[i].len ? s->xattrs[i].len
                                                       : strlen(s->xattrs[i].value));
}

static void add(struct fixture *f, struct ent s)
{
    if (!f->w) {
        f->w = archive_write_new();
        assert_int_equal(archive_write_set_format_pax_restricted(f->w), ARCHIVE_OK);
        assert_int_equal(archive_write_open(f->w, f, NULL, tar_append, NULL), ARCHIVE_OK);
    }
    size_t len = s.data && (!s.type || s.type == AE_IFREG) ? s.len ? s.len : strlen(s.data) : 0;
    struct archive_entry *e = archive_entry_new();
    entry_fill(e, &s);
    archive_entry_set_size(e, (la_int64_t)len);
    int r = archive_write_header(f->w, e);
    if (r != ARCHIVE_OK)
        fail_msg("write header %s: %s", s.path, archive_error_string(f->w));
    if (len)
        assert_int_equal(archive_write_data(f->w, s.data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

/* Writes data to f->layer, compressed. */
static void write_layer(struct fixture *f, const void *data, size_t len, enum compression c)
{
    if (c == PLAIN) {
        write_file(f->layer, data, len);
        return;
    }
    struct archive *a = archive_write_new();
    assert_int_equal(c == GZIP ? archive_write_add_filter_gzip(a)
                               : archive_write_add_filter_zstd(a),
                     ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, f->layer), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "layer.tar");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)len);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Ends the tar being built and writes it to f->layer. */
static void finish(struct fixture *f, enum compression c)
{
    assert_non_null(f->w);
    assert_int_equal(archive_write_close(f->w), ARCHIVE_OK);
    archive_write_free(f->w);
    f->w = NULL;
    write_layer(f, f->tar, f->tar_len, c);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Unpacks f->layer into f->dest; every fd the unpack opened is closed again, whatever happened. */
static int unpack(struct fixture *f)
{
    int fd = open(f->layer, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int fds = count_fds();
    int r = crisp_layer_unpack(fd, f->dest, &f->opts, &f->stats, f->diff_id, &f->err);
    assert_int_equal(count_fds(), fds);
    close(fd);
    return r;
}

static void unpack_ok(struct fixture *f)
{
    int r = unpack(f);
    if (r != 0)
        fail_msg("unpack: %d %s", r, f->err.msg);
}

/* ---- checking results ---- */

static char *at(const struct fixture *f, const char *rel)
{
    static char path[8192];
    snprintf(path, sizeof(path), "%s/%s", f->dest, rel);
    return path;
}

static struct stat lstat_ok(const struct fixture *f, const char *rel)
{
    struct stat st;
    if (lstat(at(f, rel), &st) < 0)
        fail_msg("lstat %s: %s", rel, strerror(errno));
    return st;
}

static void assert_missing(const struct fixture *f, const char *rel)
{
    struct stat st;
    assert_int_equal(lstat(at(f, rel), &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void assert_content(const struct fixture *f, const char *rel, const char *want)
{
    char buf[256] = {0};
    int fd = open(at(f, rel), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        fail_msg("open %s: %s", rel, strerror(errno));
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n >= 0);
    assert_string_equal(buf, want);
}

static void assert_link(const struct fixture *f, const char *rel, const char *want)
{
    char buf[4096];
    ssize_t n = readlink(at(f, rel), buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void assert_mode(const struct fixture *f, const char *rel, unsigned type, unsigned perm)
{
    struct stat st = lstat_ok(f, rel);
    assert_int_equal(st.st_mode & S_IFMT, type);
    assert_int_equal(st.st_mode & 07777, perm);
}

static void assert_xattr(const struct fixture *f, const char *rel, const char *name,
                         const void *want, size_t len)
{
    char buf[256];
    ssize_t n = lgetxattr(at(f, rel), name, buf, sizeof(buf));
    if (n < 0)
        fail_msg("getxattr %s %s: %s", rel, name, strerror(errno));
    assert_int_equal(n, len);
    assert_memory_equal(buf, want, len);
}

static void assert_no_xattr(const struct fixture *f, const char *rel, const char *name)
{
    char buf[256];
    assert_int_equal(lgetxattr(at(f, rel), name, buf, sizeof(buf)), -1);
    assert_int_equal(errno, ENODATA);
}

static void assert_whiteout(const struct fixture *f, const char *rel)
{
    struct stat st = lstat_ok(f, rel);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 0);
    assert_int_equal(minor(st.st_rdev), 0);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The box holds canary, dest and layer, and nothing else; the canary is intact. */
static void assert_box_untouched(const struct fixture *f)
{
    char buf[64] = {0};
    int fd = open(f->canary, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), strlen(CANARY));
    close(fd);
    assert_string_equal(buf, CANARY);

    char *names[16];
    size_t n = 0;
    DIR *d = opendir(f->box);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && n < 16)
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "canary");
    assert_string_equal(names[1], "dest");
    assert_string_equal(names[2], "layer");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

static void assert_refused(struct fixture *f, const char *want)
{
    int r = unpack(f);
    if (r == 0)
        fail_msg("unpack succeeded, expected \"%s\"", want);
    assert_int_equal(f->err.code, GRPC_STATUS_FAILED_PRECONDITION);
    sup_assert_contains(f->err.msg, want);
    assert_box_untouched(f);
}

/* ---- contents and metadata ---- */

static void test_files_modes_owners_times(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "etc/", .type = AE_IFDIR, .perm = 0750, .mtime = 1000000});
    add(f, (struct ent){.path = "etc/hello.txt",
                        .data = "hello\n",
                        .perm = 0640,
                        .uid = 1000,
                        .gid = 2000,
                        .mtime = 1234567890});
    add(f, (struct ent){.path = "bin/", .type = AE_IFDIR, .mtime = 2000000});
    add(f, (struct ent){.path = "bin/su", .data = "#!", .perm = 04755, .uid = 1000, .gid = 1000});
    add(f, (struct ent){.path = "bin/wall", .data = "", .perm = 02755, .gid = 5});
    add(f, (struct ent){.path = "tmp/", .type = AE_IFDIR, .perm = 01777});
    add(f, (struct ent){.path = "empty", .perm = 0600});
    finish(f, PLAIN);
    mode_t old = umask(0077);
    int r = unpack(f);
    umask(old);
    assert_int_equal(r, 0);

    assert_content(f, "etc/hello.txt", "hello\n");
    assert_content(f, "bin/su", "#!");
    assert_content(f, "empty", "");
    assert_mode(f, "etc", S_IFDIR, 0750);
    assert_mode(f, "etc/hello.txt", S_IFREG, 0640);
    assert_mode(f, "bin/su", S_IFREG, 04755);
    assert_mode(f, "bin/wall", S_IFREG, 02755);
    assert_mode(f, "tmp", S_IFDIR, 01777);
    struct stat st = lstat_ok(f, "etc/hello.txt");
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 2000);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890);
    st = lstat_ok(f, "bin/su");
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1000);
    /* directory times are set after their children were created */
    assert_int_equal(lstat_ok(f, "etc").st_mtim.tv_sec, 1000000);
    assert_int_equal(lstat_ok(f, "bin").st_mtim.tv_sec, 2000000);

    assert_int_equal(f->stats.files, 4);
    assert_int_equal(f->stats.dirs, 3);
    assert_int_equal(f->stats.bytes, 8);
    assert_box_untouched(f);
}

static void test_implicit_parents(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "a/b/c.txt", .data = "deep"});
    add(f, (struct ent){.path = "./x/./y//z.txt", .data = "dots"});
    finish(f, PLAIN);
    mode_t old = umask(0077);
    int r = unpack(f);
    umask(old);
    assert_int_equal(r, 0);
    assert_content(f, "a/b/c.txt", "deep");
    assert_content(f, "x/y/z.txt", "dots");
    assert_mode(f, "a", S_IFDIR, 0755);
    assert_mode(f, "a/b", S_IFDIR, 0755);
    assert_mode(f, "x/y", S_IFDIR, 0755);
    assert_int_equal(f->stats.dirs, 0);
}

static void test_root_entry_sets_dest_metadata(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "./", .type = AE_IFDIR, .perm = 0711, .mtime = 3000000});
    add(f, (struct ent){.path = "./a", .data = "a"});
    add(f, (struct ent){.path = "", .data = "skipped"});
    finish(f, PLAIN);
    unpack_ok(f);
    struct stat st;
    assert_int_equal(stat(f->dest, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    assert_int_equal(st.st_mtim.tv_sec, 3000000);
    assert_content(f, "a", "a");
}

static void test_absolute_names_land_inside(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "/abs", .data = "in"});
    add(f, (struct ent){.path = "//dir/x", .data = "x"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_content(f, "abs", "in");
    assert_content(f, "dir/x", "x");
    assert_box_untouched(f);
}

static void test_dotdot_inside_is_fine(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "a/../b.txt", .data = "b"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_content(f, "b.txt", "b");
    assert_box_untouched(f);
}

static void test_symlinks_kept_as_content(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "abs", .type = AE_IFLNK, .data = "/etc/passwd", .uid = 1000});
    add(f, (struct ent){.path = "rel", .type = AE_IFLNK, .data = "../../../../x"});
    add(f, (struct ent){.path = "d/in", .type = AE_IFLNK, .data = "../abs"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_link(f, "abs", "/etc/passwd");
    assert_link(f, "rel", "../../../../x");
    assert_link(f, "d/in", "../abs");
    assert_int_equal(lstat_ok(f, "abs").st_uid, 1000);
    assert_int_equal(f->stats.files, 3);
    assert_box_untouched(f);
}

static void test_symlink_inside_is_followed_for_parents(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "real/", .type = AE_IFDIR});
    add(f, (struct ent){.path = "lnk", .type = AE_IFLNK, .data = "real"});
    add(f, (struct ent){.path = "lnk/file", .data = "through"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_content(f, "real/file", "through");
    assert_true(S_ISLNK(lstat_ok(f, "lnk").st_mode));
}

static void test_hardlinks_share_the_inode(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "f", .data = "shared", .perm = 0751});
    add(f, (struct ent){.path = "dir/h", .link = "f"});
    add(f, (struct ent){.path = "h2", .link = "/f"});
    add(f, (struct ent){.path = "f", .link = "f"}); /* a link to itself: nothing to do */
    finish(f, PLAIN);
    unpack_ok(f);
    struct stat a = lstat_ok(f, "f"), b = lstat_ok(f, "dir/h"), c = lstat_ok(f, "h2");
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_ino, c.st_ino);
    assert_int_equal(a.st_nlink, 3);
    assert_int_equal(a.st_mode & 07777, 0751);
    assert_content(f, "dir/h", "shared");
}

static void test_fifo(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "run/p", .type = AE_IFIFO, .perm = 0620, .uid = 7});
    finish(f, PLAIN);
    mode_t old = umask(0077);
    int r = unpack(f);
    umask(old);
    assert_int_equal(r, 0);
    assert_mode(f, "run/p", S_IFIFO, 0620);
    assert_int_equal(lstat_ok(f, "run/p").st_uid, 7);
}

static void test_sparse_file(void **state)
{
    struct fixture *f = *state;
    size_t size = 1 << 20;
    char *data = calloc(1, size);
    assert_non_null(data);
    memset(data + 4096, 'A', 4096);
    memset(data + 512 * 1024, 'B', 10);
    f->w = archive_write_new();
    archive_write_set_format_pax_restricted(f->w);
    assert_int_equal(archive_write_open(f->w, f, NULL, tar_append, NULL), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    entry_fill(e, &(struct ent){.path = "sparse"});
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_sparse_add_entry(e, 4096, 4096);
    archive_entry_sparse_add_entry(e, 512 * 1024, 10);
    assert_int_equal(archive_write_header(f->w, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(f->w, data, size), (la_ssize_t)size);
    archive_entry_free(e);
    finish(f, GZIP);
    unpack_ok(f);

    struct stat st = lstat_ok(f, "sparse");
    assert_int_equal(st.st_size, size);
    char *got = malloc(size);
    assert_non_null(got);
    int fd = open(at(f, "sparse"), O_RDONLY | O_CLOEXEC);
    assert_int_equal(read(fd, got, size), (ssize_t)size);
    close(fd);
    assert_memory_equal(got, data, size);
    assert_true(st.st_blocks * 512 < (blkcnt_t)size);
    assert_int_equal(f->stats.bytes, 4096 + 10);
    free(got);
    free(data);
}

static void test_xattrs_filtered(void **state)
{
    struct fixture *f = *state;
    /* cap_net_raw, effective: a valid v2 security.capability */
    uint32_t cap[5] = {VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, 1u << CAP_NET_RAW, 0, 0, 0};
    add(f, (struct ent){.path = "f",
                        .data = "x",
                        .uid = 1000,
                        .xattrs = {{"user.foo", "bar", 0},
                                   {"trusted.foo", "no", 0},
                                   {"security.capability", cap, sizeof(cap)},
                                   {"security.evil", "no", 0}}});
    add(f, (struct ent){.path = "d/",
                        .type = AE_IFDIR,
                        .xattrs = {{"trusted.overlay.opaque", "y", 0}, {"user.dir", "1", 0}}});
    add(f, (struct ent){.path = "fake",
                        .type = AE_IFLNK,
                        .data = "f",
                        .xattrs = {{"trusted.overlay.redirect", "/x", 0}}});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_xattr(f, "f", "user.foo", "bar", 3);
    assert_xattr(f, "f", "security.capability", cap, sizeof(cap));
    assert_no_xattr(f, "f", "trusted.foo");
    assert_no_xattr(f, "f", "security.evil");
    assert_int_equal(lstat_ok(f, "f").st_uid, 1000);
    assert_xattr(f, "d", "user.dir", "1", 1);
    assert_no_xattr(f, "d", "trusted.overlay.opaque");
    assert_no_xattr(f, "fake", "trusted.overlay.redirect");
}

static void test_utf8_name_bytes_kept(void **state)
{
    struct fixture *f = *state;
    /* Written like Go's archive/tar: a UTF-8 pax path; read back in the C locale. */
    setlocale(LC_ALL, "C.UTF-8");
    add(f, (struct ent){.path = "caf\xc3\xa9.txt", .data = "utf8"});
    finish(f, PLAIN);
    setlocale(LC_ALL, "C");
    unpack_ok(f);
    assert_content(f, "caf\xc3\xa9.txt", "utf8");
}

/* ---- replacing earlier entries ---- */

static void test_file_replaces_symlink_not_written_through(void **state)
{
    struct fixture *f = *state;
    char target[128];
    snprintf(target, sizeof(target), "%s/written-through", f->box);
    add(f, (struct ent){.path = "s", .type = AE_IFLNK, .data = target});
    add(f, (struct ent){.path = "s", .data = "new"});
    add(f, (struct ent){.path = "t", .type = AE_IFLNK, .data = "/tmp"});
    add(f, (struct ent){.path = "t", .data = "not in /tmp"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_mode(f, "s", S_IFREG, 0644);
    assert_content(f, "s", "new");
    assert_mode(f, "t", S_IFREG, 0644);
    assert_box_untouched(f);
}

static void test_dir_replaces_symlink(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "d", .type = AE_IFLNK, .data = f->box});
    add(f, (struct ent){.path = "d/", .type = AE_IFDIR});
    add(f, (struct ent){.path = "d/x", .data = "x"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_mode(f, "d", S_IFDIR, 0755);
    assert_content(f, "d/x", "x");
    assert_box_untouched(f);
}

static void test_file_replaces_dir_tree(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "d/", .type = AE_IFDIR});
    add(f, (struct ent){.path = "d/sub/x", .data = "x"});
    add(f, (struct ent){.path = "d", .data = "file now"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_content(f, "d", "file now");
}

static void test_dir_over_dir_keeps_contents(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "d/", .type = AE_IFDIR, .perm = 0700});
    add(f, (struct ent){.path = "d/x", .data = "kept"});
    add(f, (struct ent){.path = "d/", .type = AE_IFDIR, .perm = 0751, .uid = 3});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_content(f, "d/x", "kept");
    assert_mode(f, "d", S_IFDIR, 0751);
    assert_int_equal(lstat_ok(f, "d").st_uid, 3);
}

/* ---- whiteouts ---- */

static void test_whiteouts(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "gone/", .type = AE_IFDIR});
    add(f, (struct ent){.path = "gone/x", .data = "x"});
    add(f, (struct ent){.path = ".wh.gone"});
    add(f, (struct ent){.path = "sub/.wh.other"});
    add(f, (struct ent){.path = "/lib/.wh.libc.so", .uid = 5});
    finish(f, GZIP);
    unpack_ok(f);
    assert_whiteout(f, "gone");
    assert_whiteout(f, "sub/other");
    assert_whiteout(f, "lib/libc.so");
    assert_missing(f, ".wh.gone");
    assert_missing(f, "sub/.wh.other");
}

static void test_opaque_dirs(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "d/", .type = AE_IFDIR});
    add(f, (struct ent){.path = "d/.wh..wh..opq"});
    add(f, (struct ent){.path = "d/kept", .data = "k"});
    add(f, (struct ent){.path = "new/sub/.wh..wh..opq"});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_xattr(f, "d", "trusted.overlay.opaque", "y", 1);
    assert_xattr(f, "new/sub", "trusted.overlay.opaque", "y", 1);
    assert_missing(f, "d/.wh..wh..opq");
    assert_missing(f, "new/sub/.wh..wh..opq");
    assert_content(f, "d/kept", "k");
}

static void test_refuse_unknown_whiteout_meta(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "d/.wh..wh.plnk"});
    finish(f, PLAIN);
    assert_refused(f, "unknown whiteout metadata name");
}

/* ---- compression and diff_id ---- */

static void round_trip(struct fixture *f, enum compression c)
{
    add(f, (struct ent){.path = "dir/", .type = AE_IFDIR});
    add(f, (struct ent){.path = "dir/file", .data = "compressed content"});
    finish(f, c);
    unpack_ok(f);
    assert_content(f, "dir/file", "compressed content");
    char want[CRISP_DIGEST_LEN + 1];
    crisp_sha256_of(f->tar, f->tar_len, want);
    assert_string_equal(f->diff_id, want);
    assert_int_equal(f->tar_len % 10240, 0); /* the writer's padding is part of the digest */
}

static void test_plain(void **state)
{
    round_trip(*state, PLAIN);
}

static void test_gzip(void **state)
{
    round_trip(*state, GZIP);
}

static void test_zstd(void **state)
{
    round_trip(*state, ZSTD);
}

static void test_empty_layer_diff_id(void **state)
{
    struct fixture *f = *state;
    char zeros[1024] = {0}; /* the empty layer of docker and buildkit */
    write_layer(f, zeros, sizeof(zeros), GZIP);
    unpack_ok(f);
    assert_string_equal(f->diff_id,
                        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
    assert_int_equal(f->stats.files + f->stats.dirs, 0);
}

static void test_bytes_after_the_end_are_hashed(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "f", .data = "f"});
    assert_int_equal(archive_write_close(f->w), ARCHIVE_OK);
    archive_write_free(f->w);
    f->w = NULL;
    memcpy(f->tar + f->tar_len - 10, "trailing!", 9); /* in the writer's padding */
    write_layer(f, f->tar, f->tar_len, GZIP);
    unpack_ok(f);
    char want[CRISP_DIGEST_LEN + 1];
    crisp_sha256_of(f->tar, f->tar_len, want);
    assert_string_equal(f->diff_id, want);
}

static void test_pipe_input_and_null_outputs(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "p", .data = "piped"});
    finish(f, ZSTD);
    int fd = open(f->layer, O_RDONLY | O_CLOEXEC);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    assert_true(n > 0 && n < (ssize_t)sizeof(buf));
    assert_int_equal(write(p[1], buf, (size_t)n), n);
    close(p[1]);
    close(fd);
    assert_int_equal(crisp_layer_unpack(p[0], f->dest, NULL, NULL, NULL, &f->err), 0);
    close(p[0]);
    assert_content(f, "p", "piped");
}

/* ---- hostile layers ---- */

static void test_refuse_dotdot(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "../escape", .data = "evil"});
    finish(f, PLAIN);
    assert_refused(f, "layer entry \"../escape\": path escapes the layer root");
}

static void test_refuse_nested_dotdot(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "a/../../escape", .data = "evil"});
    finish(f, GZIP);
    assert_refused(f, "path escapes the layer root");
}

static void test_refuse_final_dotdot(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "a/b/..", .type = AE_IFDIR});
    finish(f, PLAIN);
    assert_refused(f, "path ends in \"..\"");
}

static void test_refuse_absolute_symlink_parent(void **state)
{
    struct fixture *f = *state;
    char evil[256], outside[256];
    snprintf(evil, sizeof(evil), "x/tmp/%s-evil", basename(f->box));
    snprintf(outside, sizeof(outside), "%s-evil", f->box);
    add(f, (struct ent){.path = "x", .type = AE_IFLNK, .data = "/"});
    add(f, (struct ent){.path = evil, .data = "evil"});
    finish(f, PLAIN);
    assert_refused(f, "path escapes the layer root");
    struct stat st;
    assert_int_equal(lstat(outside, &st), -1);
}

static void test_refuse_climbing_symlink_parent(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "up", .type = AE_IFLNK, .data = "../../.."});
    add(f, (struct ent){.path = "up/evil", .data = "evil"});
    finish(f, PLAIN);
    assert_refused(f, "layer entry \"up/evil\": path escapes the layer root");
}

static void test_refuse_symlink_one_up(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "d/up", .type = AE_IFLNK, .data = "../.."}); /* the box */
    add(f, (struct ent){.path = "d/up/evil", .data = "evil"});
    finish(f, PLAIN);
    assert_refused(f, "path escapes the layer root");
}

static void test_refuse_symlink_loop(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "a", .type = AE_IFLNK, .data = "b"});
    add(f, (struct ent){.path = "b", .type = AE_IFLNK, .data = "a"});
    add(f, (struct ent){.path = "a/x", .data = "x"});
    finish(f, PLAIN);
    assert_refused(f, "layer entry \"a/x\": too many levels of symbolic links");
}

static void test_refuse_dangling_symlink_parent(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "l", .type = AE_IFLNK, .data = "missing"});
    add(f, (struct ent){.path = "l/x", .data = "x"});
    finish(f, PLAIN);
    assert_refused(f, "layer entry \"l/x\": a parent is a dangling symbolic link");
    assert_missing(f, "missing");
}

static void test_refuse_hardlink_escape(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "h", .link = "../../etc/shadow"});
    finish(f, PLAIN);
    assert_refused(f, "hard link target \"../../etc/shadow\" escapes the layer root");
}

static void test_refuse_hardlink_absolute_missing(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "h", .link = "/etc/shadow"});
    finish(f, PLAIN);
    assert_refused(f, "hard link target \"/etc/shadow\" does not exist in the layer");
}

static void test_refuse_hardlink_to_symlink(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "s", .type = AE_IFLNK, .data = "/etc/passwd"});
    add(f, (struct ent){.path = "h", .link = "s"});
    finish(f, PLAIN);
    assert_refused(f, "hard link target \"s\" is not a regular file");
}

static void test_refuse_hardlink_through_escaping_symlink(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "root", .type = AE_IFLNK, .data = "/"});
    add(f, (struct ent){.path = "h", .link = "root/etc/passwd"});
    finish(f, PLAIN);
    assert_refused(f, "escapes the layer root");
}

static void test_refuse_whiteout_escape(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "../.wh.canary"});
    finish(f, PLAIN);
    assert_refused(f, "path escapes the layer root");
}

static void test_refuse_device_nodes_by_default(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "dev/mem", .type = AE_IFCHR, .major = 1, .minor = 1});
    finish(f, PLAIN);
    assert_refused(f, "device node \"dev/mem\" (char 1:1) in layer: device nodes are not allowed "
                      "(allow_device_nodes is off)");
    assert_missing(f, "dev/mem");
}

static void test_refuse_block_device(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "dev/sda", .type = AE_IFBLK, .major = 8, .minor = 0});
    finish(f, PLAIN);
    assert_refused(f, "(block 8:0)");
}

static void test_devices_when_allowed(void **state)
{
    struct fixture *f = *state;
    add(f,
        (struct ent){.path = "dev/null", .type = AE_IFCHR, .major = 1, .minor = 3, .perm = 0666});
    add(f,
        (struct ent){.path = "dev/loop0", .type = AE_IFBLK, .major = 7, .minor = 0, .perm = 0660});
    add(f, (struct ent){.path = "dev/wh", .type = AE_IFCHR}); /* 0:0 */
    finish(f, PLAIN);
    f->opts.allow_devices = true;
    unpack_ok(f);
    struct stat st = lstat_ok(f, "dev/null");
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 3));
    assert_int_equal(st.st_mode & 07777, 0666);
    st = lstat_ok(f, "dev/loop0");
    assert_true(S_ISBLK(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(7, 0));
    assert_whiteout(f, "dev/wh");
}

static void test_char_0_0_allowed_by_default(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "wh", .type = AE_IFCHR});
    finish(f, PLAIN);
    unpack_ok(f);
    assert_whiteout(f, "wh");
}

static void test_refuse_long_component(void **state)
{
    struct fixture *f = *state;
    char *name = repeat('c', 300), path[320];
    snprintf(path, sizeof(path), "d/%s", name);
    add(f, (struct ent){.path = path, .data = "x"});
    finish(f, PLAIN);
    assert_refused(f, "path component of 300 bytes is too long (the limit is 255)");
    free(name);
}

static void test_refuse_long_path(void **state)
{
    struct fixture *f = *state;
    char *path = repeat('p', 5000);
    for (size_t i = 100; i < 5000; i += 101)
        path[i] = '/';
    add(f, (struct ent){.path = path, .data = "x"});
    finish(f, PLAIN);
    assert_refused(f, "path of 5000 bytes is too long (the limit is 4095)");
    assert_true(strlen(f->err.msg) < 400); /* the name is cut in the message */
    free(path);
}

static void test_refuse_parent_not_a_dir(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "f", .data = "file"});
    add(f, (struct ent){.path = "f/x", .data = "x"});
    finish(f, PLAIN);
    assert_refused(f, "layer entry \"f/x\": a parent is not a directory");
}

static void test_refuse_owner_out_of_range(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "f", .data = "x", .uid = 4294967295LL});
    finish(f, PLAIN);
    assert_refused(f, "owner 4294967295:0 is out of range");
}

static char *pseudo_random(size_t len)
{
    char *data = malloc(len);
    assert_non_null(data);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245 + 12345;
        data[i] = (char)(x >> 16);
    }
    return data;
}

static void truncate_layer(struct fixture *f)
{
    struct stat st;
    assert_int_equal(stat(f->layer, &st), 0);
    assert_int_equal(truncate(f->layer, st.st_size / 2), 0);
}

static void test_refuse_truncated_gzip(void **state)
{
    struct fixture *f = *state;
    char *data = pseudo_random(200000);
    add(f, (struct ent){.path = "big", .data = data, .len = 200000});
    finish(f, GZIP);
    truncate_layer(f);
    assert_refused(f, "layer is not a valid tar stream: ");
    free(data);
}

static void test_refuse_truncated_zstd(void **state)
{
    struct fixture *f = *state;
    char *data = pseudo_random(200000);
    add(f, (struct ent){.path = "big", .data = data, .len = 200000});
    finish(f, ZSTD);
    truncate_layer(f);
    assert_refused(f, "layer is not a valid tar stream: ");
    free(data);
}

static void test_refuse_truncated_plain(void **state)
{
    struct fixture *f = *state;
    char *data = pseudo_random(200000);
    add(f, (struct ent){.path = "big", .data = data, .len = 200000});
    finish(f, PLAIN);
    truncate_layer(f);
    assert_refused(f, "layer is not a valid tar stream: ");
    free(data);
}

static void test_refuse_garbage(void **state)
{
    struct fixture *f = *state;
    char *data = pseudo_random(4096);
    write_layer(f, data, 4096, PLAIN);
    assert_refused(f, "layer is not a valid tar stream: ");
    free(data);
}

static void test_refuse_empty_file(void **state)
{
    struct fixture *f = *state;
    write_layer(f, "", 0, PLAIN);
    assert_refused(f, "layer is not a valid tar stream: ");
}

static void test_missing_dest_is_internal(void **state)
{
    struct fixture *f = *state;
    add(f, (struct ent){.path = "a", .data = "a"});
    finish(f, PLAIN);
    strcat(f->dest, "/missing");
    assert_true(unpack(f) < 0);
    assert_int_equal(f->err.code, GRPC_STATUS_INTERNAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_files_modes_owners_times),
        T(test_implicit_parents),
        T(test_root_entry_sets_dest_metadata),
        T(test_absolute_names_land_inside),
        T(test_dotdot_inside_is_fine),
        T(test_symlinks_kept_as_content),
        T(test_symlink_inside_is_followed_for_parents),
        T(test_hardlinks_share_the_inode),
        T(test_fifo),
        T(test_sparse_file),
        T(test_xattrs_filtered),
        T(test_utf8_name_bytes_kept),
        T(test_file_replaces_symlink_not_written_through),
        T(test_dir_replaces_symlink),
        T(test_file_replaces_dir_tree),
        T(test_dir_over_dir_keeps_contents),
        T(test_whiteouts),
        T(test_opaque_dirs),
        T(test_refuse_unknown_whiteout_meta),
        T(test_plain),
        T(test_gzip),
        T(test_zstd),
        T(test_empty_layer_diff_id),
        T(test_bytes_after_the_end_are_hashed),
        T(test_pipe_input_and_null_outputs),
        T(test_refuse_dotdot),
        T(test_refuse_nested_dotdot),
        T(test_refuse_final_dotdot),
        T(test_refuse_absolute_symlink_parent),
        T(test_refuse_climbing_symlink_parent),
        T(test_refuse_symlink_one_up),
        T(test_refuse_symlink_loop),
        T(test_refuse_dangling_symlink_parent),
        T(test_refuse_hardlink_escape),
        T(test_refuse_hardlink_absolute_missing),
        T(test_refuse_hardlink_to_symlink),
        T(test_refuse_hardlink_through_escaping_symlink),
        T(test_refuse_whiteout_escape),
        T(test_refuse_device_nodes_by_default),
        T(test_refuse_block_device),
        T(test_devices_when_allowed),
        T(test_char_0_0_allowed_by_default),
        T(test_refuse_long_component),
        T(test_refuse_long_path),
        T(test_refuse_parent_not_a_dir),
        T(test_refuse_owner_out_of_range),
        T(test_refuse_truncated_gzip),
        T(test_refuse_truncated_zstd),
        T(test_refuse_truncated_plain),
        T(test_refuse_garbage),
        T(test_refuse_empty_file),
        T(test_missing_dest_is_internal),
    };
    return cmocka_run_group_tests_name("unpack", tests, NULL, NULL);
}
