/* runtime/resolve: mount points made inside a root with openat2(RESOLVE_IN_ROOT). A fake root
 * in /tmp/crisp-res-XXXXXX/root holds hostile symlinks; nothing may appear outside it. No
 * privileges needed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/resolve.h"
#include "support_fs.h"

struct fixture {
    char box[64], root[96], outside[96];
    int rootfd;
    struct crisp_err err;
};

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    struct stat st;
    return lstat(path, &st) == 0;
}

static void link_in(struct fixture *f, const char *target, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->root, name);
    assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->box, "/tmp/crisp-res-XXXXXX");
    assert_non_null(mkdtemp(f->box));
    snprintf(f->root, sizeof(f->root), "%s/root", f->box);
    snprintf(f->outside, sizeof(f->outside), "%s/outside", f->box);
    assert_int_equal(mkdir(f->root, 0755), 0);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close(f->rootfd);
    sup_remove_tree(f->box);
    free(f);
    return 0;
}

static void test_mkdir_plain_and_dotdot(void **state)
{
    struct fixture *f = *state;
    int fd = crisp_rt_mkdir_in_root(f->rootfd, "/a/b/../c//d/", 0755, 0, &f->err);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists("%s/a/c/d", f->root));
    fd = crisp_rt_mkdir_in_root(f->rootfd, "../../../../x", 0755, 0, &f->err);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists("%s/x", f->root));
    assert_false(exists("%s/x", f->box));
}

static void test_absolute_symlink_to_host_stays_inside(void **state)
{
    struct fixture *f = *state;
    link_in(f, f->outside, "evil"); /* a real host directory */
    int fd = crisp_rt_mkdir_in_root(f->rootfd, "/evil/sub", 0755, 0, &f->err);
    if (fd < 0)
        fail_msg("%s", f->err.msg);
    close(fd);
    assert_false(exists("%s/sub", f->outside));
    assert_true(exists("%s%s/sub", f->root, f->outside));
}

static void test_relative_symlink_climbing_out(void **state)
{
    struct fixture *f = *state;
    link_in(f, "../../../../../../../../../outside", "up");
    int fd = crisp_rt_mkpath_in_root(f->rootfd, "/up/file", false, 0, &f->err);
    if (fd < 0)
        fail_msg("%s", f->err.msg);
    close(fd);
    assert_false(exists("%s/file", f->outside));
    assert_true(exists("%s/outside/file", f->root));
}

static void test_dangling_file_symlink_created_inside(void **state)
{
    struct fixture *f = *state;
    char host_file[200];
    snprintf(host_file, sizeof(host_file), "%s/resolv.conf", f->outside);
    link_in(f, host_file, "resolv.conf");
    int fd = crisp_rt_mkpath_in_root(f->rootfd, "/resolv.conf", false, 0, &f->err);
    if (fd < 0)
        fail_msg("%s", f->err.msg);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    close(fd);
    assert_false(exists("%s", host_file));
    assert_true(exists("%s%s", f->root, host_file));
}

static void test_symlink_loop_fails(void **state)
{
    struct fixture *f = *state;
    link_in(f, "loop2", "loop1");
    link_in(f, "loop1", "loop2");
    assert_true(crisp_rt_mkdir_in_root(f->rootfd, "/loop1/x", 0755, 0, &f->err) < 0);
    assert_true(crisp_rt_mkpath_in_root(f->rootfd, "/loop1", false, 0, &f->err) < 0);
}

static void test_no_symlinks_for_special_mounts(void **state)
{
    struct fixture *f = *state;
    link_in(f, "/etc", "proc");
    assert_int_equal(crisp_rt_mkdir_in_root(f->rootfd, "/proc", 0555, RESOLVE_NO_SYMLINKS, &f->err),
                     -ELOOP);
    assert_non_null(strstr(f->err.msg, "/proc"));
}

static void test_file_where_a_dir_is_needed(void **state)
{
    struct fixture *f = *state;
    int fd = crisp_rt_mkpath_in_root(f->rootfd, "/etc/hosts", false, 0, &f->err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(crisp_rt_mkdir_in_root(f->rootfd, "/etc/hosts/x", 0755, 0, &f->err), -ENOTDIR);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mkdir_plain_and_dotdot),
        T(test_absolute_symlink_to_host_stays_inside),
        T(test_relative_symlink_climbing_out),
        T(test_dangling_file_symlink_created_inside),
        T(test_symlink_loop_fails),
        T(test_no_symlinks_for_special_mounts),
        T(test_file_where_a_dir_is_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
