#define _GNU_SOURCE
#include "support_rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

void sup_busybox_box(const char *tmpl, const char *const *applets, size_t n, char box[64],
                     char lower[96])
{
    snprintf(box, 64, "%s", tmpl);
    assert_non_null(mkdtemp(box));
    snprintf(lower, 96, "%s/lower", box);
    char path[256];
    sup_mkdir(lower);
    snprintf(path, sizeof(path), "%s/bin", lower);
    sup_mkdir(path);
    snprintf(path, sizeof(path), "%s/bin/busybox", lower);
    sup_copy_file("/bin/busybox", path, 0755);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/bin/%s", lower, applets[i]);
        assert_int_equal(symlink("busybox", path), 0);
    }
}

void sup_check_no_leftovers(const char *box)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    assert_non_null(mi);
    char line[4096];
    while (fgets(line, sizeof(line), mi))
        if (strstr(line, box))
            fail_msg("leaked mount: %s", line);
    fclose(mi);
}

void sup_ctr_init(struct sup_ctr *t, const char *box, int n, const char *lower)
{
    snprintf(t->dir, sizeof(t->dir), "%s/t%d", box, n);
    snprintf(t->upper, sizeof(t->upper), "%s/upper", t->dir);
    snprintf(t->work, sizeof(t->work), "%s/work", t->dir);
    snprintf(t->rootfs, sizeof(t->rootfs), "%s/rootfs", t->dir);
    snprintf(t->host, sizeof(t->host), "%s/host", t->dir);
    sup_mkdir(t->dir);
    sup_mkdir(t->upper);
    sup_mkdir(t->work);
    sup_mkdir(t->rootfs);
    sup_mkdir(t->host);
    t->lowers[0] = lower;
    t->env[0] = "PATH=/bin";
    t->env[1] = NULL;
    t->spec = (struct crisp_container_spec){
        .lowerdirs = t->lowers,
        .n_lowerdirs = 1,
        .upperdir = t->upper,
        .workdir = t->work,
        .rootfs = t->rootfs,
        .process = {.env = t->env, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1},
    };
}

void sup_ctr_stop(struct sup_ctr *t)
{
    for (int i = 0; i < SUP_MAX_PIDS; i++)
        if (t->pids[i] > 0) {
            kill(t->pids[i], SIGKILL);
            waitpid(t->pids[i], NULL, 0);
            t->pids[i] = 0;
        }
    crisp_container_free(t->c);
    t->c = NULL;
}

void sup_ctr_set_caps(struct sup_ctr *t, const int *caps, size_t n)
{
    t->spec.process.caps = caps;
    t->spec.process.n_caps = n;
    t->spec.process.caps_set = true;
}

void sup_ctr_cleanup(struct sup_ctr *t)
{
    sup_ctr_stop(t);
    sup_remove_tree(t->dir);
}

void sup_track(struct sup_ctr *t, pid_t pid)
{
    for (int i = 0; i < SUP_MAX_PIDS; i++)
        if (t->pids[i] == 0) {
            t->pids[i] = pid;
            return;
        }
    fail_msg("too many pids");
}

int sup_wait_pid(struct sup_ctr *t, pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (int i = 0; i < SUP_MAX_PIDS; i++)
        if (t->pids[i] == pid)
            t->pids[i] = 0;
    return status;
}

void sup_kill_wait(struct sup_ctr *t, pid_t pid)
{
    kill(pid, SIGKILL);
    sup_wait_pid(t, pid);
}

void sup_expect_ok(struct sup_ctr *t, int r, const char *what)
{
    if (r < 0)
        fail_msg("%s: %d (%s)", what, r, t->err.msg);
}

pid_t sup_launch(struct sup_ctr *t, int *out_fd)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    t->spec.process.stdout_fd = p[1];
    t->spec.process.stderr_fd = p[1];
    int r = crisp_container_create(&t->spec, &t->c, &t->err);
    close(p[1]);
    if (r < 0)
        close(p[0]);
    sup_expect_ok(t, r, "create");
    pid_t pid = crisp_container_pid(t->c);
    sup_track(t, pid);
    sup_expect_ok(t, crisp_container_start(t->c, &t->err), "start");
    crisp_container_free(t->c);
    t->c = NULL;
    *out_fd = p[0];
    return pid;
}

char *sup_run(struct sup_ctr *t, int *status)
{
    int fd;
    pid_t pid = sup_launch(t, &fd);
    char *out = sup_read_all(fd);
    close(fd);
    *status = sup_wait_pid(t, pid);
    return out;
}

char *sup_run_argv(struct sup_ctr *t, char **argv, int *status)
{
    t->spec.process.argv = argv;
    char *out = sup_run(t, status);
    t->spec.process.argv = NULL;
    return out;
}

char *sup_run_script(struct sup_ctr *t, const char *script, int *status)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    return sup_run_argv(t, argv, status);
}

static char *exited_0(char *out, int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("container status 0x%x, output: %s", (unsigned)status, out);
    return out;
}

char *sup_run_ok(struct sup_ctr *t)
{
    int status;
    char *out = sup_run(t, &status);
    return exited_0(out, status);
}

char *sup_run_script_ok(struct sup_ctr *t, const char *script)
{
    int status;
    char *out = sup_run_script(t, script, &status);
    return exited_0(out, status);
}
