/* runtime/overlay: the three ways of mounting an overlay (new mount API with "lowerdir+",
 * mount(2) with absolute paths, mount(2) with paths relative to the layers' common parent).
 * Needs root; every mount happens in a forked child's own mount namespace, so nothing can leak
 * into ours (checked at the end of each test). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/overlay.h"
#include "support_fs.h"

#define N_LAYERS 100

struct fixture {
    char box[64], upper[96], work[96], target[96];
    char layers[N_LAYERS][256];
    const char *lowers[N_LAYERS];
    struct crisp_rt_overlay ov;
};

static void write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

static void mkdirs(const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
}

/* Layer i holds "which" = i and "only-<i>"; half the layers live under p/one, half under
 * p/two, so that their common parent is p. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->box, "/tmp/crisp-ovl-XXXXXX");
    assert_non_null(mkdtemp(f->box));
    snprintf(f->upper, sizeof(f->upper), "%s/upper", f->box);
    snprintf(f->work, sizeof(f->work), "%s/work", f->box);
    snprintf(f->target, sizeof(f->target), "%s/target", f->box);
    mkdirs(f->upper);
    mkdirs(f->work);
    mkdirs(f->target);
    char box[sizeof(f->box)];
    memcpy(box, f->box, sizeof(box));
    for (int i = 0; i < N_LAYERS; i++) {
        snprintf(f->layers[i], sizeof(f->layers[i]), "%s/p/%s/layer-%03d-long-name-like-a-digest",
                 box, i % 2 ? "one" : "two", i);
        mkdirs(f->layers[i]);
        char file[300], content[16];
        snprintf(file, sizeof(file), "%s/which", f->layers[i]);
        snprintf(content, sizeof(content), "%d\n", i);
        write_file(file, content);
        snprintf(file, sizeof(file), "%s/only-%03d", f->layers[i], i);
        write_file(file, "x\n");
        f->lowers[i] = f->layers[i];
    }
    f->ov = (struct crisp_rt_overlay){
        .lowerdirs = f->lowers,
        .n_lowerdirs = N_LAYERS,
        .upperdir = f->upper,
        .workdir = f->work,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sup_remove_tree(f->box);
    free(f);
    return 0;
}

/* ---- the child: mounts in its own mount namespace, reports through its exit status ---- */

enum method { NEW_API, LEGACY };

enum child_status {
    CHILD_OK = 0,
    CHILD_NO_NS = 10,
    CHILD_MOUNT_FAILED,
    CHILD_NOT_SUPPORTED,
    CHILD_WRONG_CONTENT,
    CHILD_WRONG_OPTIONS,
};

static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* The mountinfo line of target, in buf. */
static int mount_line(const char *target, char *buf, size_t size)
{
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    if (!mi)
        return -1;
    int found = -1;
    while (fgets(buf, (int)size, mi))
        if (strstr(buf, target) && strstr(buf, "overlay")) {
            found = 0;
            break;
        }
    fclose(mi);
    return found;
}

static void child(const struct fixture *f, enum method m, const char *expect_which,
                  const char *expect_in_options)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        _exit(CHILD_NO_NS);
    struct crisp_err err = {0};
    int r = m == NEW_API ? crisp_rt_overlay_mount_new_api(&f->ov, f->target, &err)
                         : crisp_rt_overlay_mount_legacy(&f->ov, f->target, &err);
    if (r == -EOPNOTSUPP)
        _exit(CHILD_NOT_SUPPORTED);
    if (r < 0) {
        fprintf(stderr, "mount: %s\n", err.msg);
        _exit(CHILD_MOUNT_FAILED);
    }
    char path[200], buf[8192];
    snprintf(path, sizeof(path), "%s/which", f->target);
    if (read_small(path, buf, sizeof(buf)) < 0 || strcmp(buf, expect_which) != 0)
        _exit(CHILD_WRONG_CONTENT);
    snprintf(path, sizeof(path), "%s/only-000", f->target);
    if (access(path, F_OK) < 0)
        _exit(CHILD_WRONG_CONTENT);
    if (mount_line(f->target, buf, sizeof(buf)) < 0 || !strstr(buf, expect_in_options)) {
        fprintf(stderr, "options: %s\n", buf);
        _exit(CHILD_WRONG_OPTIONS);
    }
    _exit(CHILD_OK);
}

static int run_child(const struct fixture *f, enum method m, const char *expect_which,
                     const char *expect_in_options)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(f, m, expect_which, expect_in_options);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void check_no_mount_left(const struct fixture *f)
{
    char line[8192];
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    assert_non_null(mi);
    while (fgets(line, sizeof(line), mi))
        if (strstr(line, f->box))
            fail_msg("leaked mount: %s", line);
    fclose(mi);
}

/* ---- tests ---- */

static void test_new_api_many_layers(void **state)
{
    struct fixture *f = *state;
    int st = run_child(f, NEW_API, "99\n", "lowerdir");
    if (st == CHILD_NOT_SUPPORTED) {
        printf("kernel without overlay \"lowerdir+\": new mount API path not tested\n");
        return;
    }
    assert_int_equal(st, CHILD_OK);
    check_no_mount_left(f);
}

static void test_legacy_relative_when_too_long(void **state)
{
    struct fixture *f = *state;
    /* absolute: 100 x ~75 bytes, over a page; relative to <box>/p: "one/layer-099-..." */
    assert_int_equal(run_child(f, LEGACY, "99\n", "lowerdir=one/layer-099-"), CHILD_OK);
    check_no_mount_left(f);
}

static void test_legacy_absolute_when_it_fits(void **state)
{
    struct fixture *f = *state;
    f->ov.n_lowerdirs = 3;
    char expect[300];
    snprintf(expect, sizeof(expect), "lowerdir=%s:", f->layers[2]);
    assert_int_equal(run_child(f, LEGACY, "2\n", expect), CHILD_OK);
    check_no_mount_left(f);
}

static void test_bottom_layer_first(void **state)
{
    struct fixture *f = *state;
    /* reversed: layer 0 on top */
    for (int i = 0; i < N_LAYERS; i++)
        f->lowers[i] = f->layers[N_LAYERS - 1 - i];
    assert_int_equal(run_child(f, LEGACY, "0\n", "lowerdir=two/layer-000-"), CHILD_OK);
    int st = run_child(f, NEW_API, "0\n", "lowerdir");
    assert_true(st == CHILD_OK || st == CHILD_NOT_SUPPORTED);
    check_no_mount_left(f);
}

static void test_legacy_too_many_layers(void **state)
{
    struct fixture *f = *state;
    /* 60 layers with 120-byte names: over a page even relative to their parent. */
    static char names[60][200];
    static const char *lowers[60];
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], sizeof(names[i]), "%s/p/%03d-%0116d", f->box, i, 0);
        lowers[i] = names[i];
    }
    const struct crisp_rt_overlay ov = {
        .lowerdirs = lowers, .n_lowerdirs = 60, .upperdir = f->upper, .workdir = f->work};
    struct crisp_err err = {0};
    /* refused before any mount is attempted, so it is safe in our own namespace */
    assert_int_equal(crisp_rt_overlay_mount_legacy(&ov, f->target, &err), -E2BIG);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "60 layers do not fit"));
    check_no_mount_left(f);
}

static void test_legacy_refuses_separators(void **state)
{
    struct fixture *f = *state;
    const char *lowers[] = {"/tmp/a:b"};
    const struct crisp_rt_overlay ov = {
        .lowerdirs = lowers, .n_lowerdirs = 1, .upperdir = f->upper, .workdir = f->work};
    struct crisp_err err = {0};
    assert_int_equal(crisp_rt_overlay_mount_legacy(&ov, f->target, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "/tmp/a:b"));
    lowers[0] = "relative/layer";
    assert_int_equal(crisp_rt_overlay_mount_legacy(&ov, f->target, &err), -EINVAL);
    const struct crisp_rt_overlay half = {
        .lowerdirs = lowers, .n_lowerdirs = 1, .upperdir = f->upper};
    assert_int_equal(crisp_rt_overlay_mount(&half, f->target, &err), -EINVAL);
    check_no_mount_left(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    if (geteuid() != 0) {
        printf("test_runtime_overlay: SKIPPED: needs root (mounts)\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        T(test_new_api_many_layers),          T(test_legacy_relative_when_too_long),
        T(test_legacy_absolute_when_it_fits), T(test_bottom_layer_first),
        T(test_legacy_too_many_layers),       T(test_legacy_refuses_separators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
