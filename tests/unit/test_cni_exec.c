/* Running CNI plugins (pkg/network/cni_exec.c) with small shell plugins:
 * the environment and stdin they get, error objects, crashes, garbage,
 * timeouts, late exits, plugins started before their config, missing binaries. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "network/cni_exec.h"
#include "util/fs.h"

static char dir[] = "/tmp/crisp-cni-exec-XXXXXX";
static char *bin_dirs[2];

static const struct {
    const char *name, *script;
} plugins[] = {
    {"echo", "#!/bin/sh\nin=$(cat)\n"
             "printf '{\"cniVersion\":\"1.0.0\",\"cmd\":\"%s\",\"id\":\"%s\",\"netns\":\"%s\","
             "\"ifname\":\"%s\",\"args\":\"%s\",\"path\":\"%s\",\"home\":\"%s\",\"len\":%d}' "
             "\"$CNI_COMMAND\" \"$CNI_CONTAINERID\" \"$CNI_NETNS\" \"$CNI_IFNAME\" \"$CNI_ARGS\" "
             "\"$CNI_PATH\" \"${HOME-unset}\" ${#in}\n"},
    {"fail", "#!/bin/sh\ncat >/dev/null\necho '{\"cniVersion\":\"1.0.0\",\"code\":11,"
             "\"msg\":\"no IP addresses available\",\"details\":\"range 10.88.0.0/30 is full\"}'\n"
             "exit 1\n"},
    {"crash", "#!/bin/sh\necho 'panic: nil map' >&2\nexit 2\n"},
    {"garbage", "#!/bin/sh\necho 'this is not json'\n"},
    {"silent", "#!/bin/sh\nexit 0\n"},
    {"slow", "#!/bin/sh\nexec sleep 30\n"},
    {"noread", "#!/bin/sh\necho '{\"cniVersion\":\"1.0.0\"}'\n"},
    /* close their output first, then exit late or never */
    {"late", "#!/bin/sh\ncat >/dev/null\nexec >&- 2>&-\nsleep 0.3\nexit 4\n"},
    {"linger", "#!/bin/sh\ncat >/dev/null\nexec >&- 2>&-\nexec sleep 30\n"},
};

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as in crispd */
    assert_non_null(mkdtemp(dir));
    bin_dirs[0] = "/nonexistent";
    bin_dirs[1] = dir;
    for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
        char path[256];
        struct crisp_err err;
        snprintf(path, sizeof(path), "%s/%s", dir, plugins[i].name);
        assert_int_equal(
            crisp_write_file_atomic(path, plugins[i].script, strlen(plugins[i].script), 0755, &err),
            0);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, plugins[i].name);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static const struct crisp_cni_invocation inv = {.command = "ADD",
                                                .container_id = "c0ffee",
                                                .netns = "/run/netns/x",
                                                .ifname = "eth0",
                                                .args = "IgnoreUnknown=1;K8S_POD_NAME=p"};

static int run(const char *type, int timeout, json_t *config, json_t **out, struct crisp_err *err)
{
    struct crisp_cni_plugin_dirs dirs = {bin_dirs, 2, timeout};
    return crisp_cni_exec(&dirs, type, &inv, config, out, err);
}

/* The echo plugin's output says how many bytes of config it read: all of them. */
static void assert_read_whole_config_and_free(json_t *out, json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);
    assert_int_equal(json_integer_value(json_object_get(out, "len")), strlen(text));
    free(text);
    json_decref(out);
    json_decref(config);
}

static void test_plugin_gets_the_cni_environment_and_config(void **state)
{
    (void)state;
    json_t *config = json_pack("{s:s, s:s}", "cniVersion", "1.0.0", "name", "n");
    json_t *out = NULL;
    struct crisp_err err = {0};
    assert_int_equal(run("echo", 5, config, &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "cmd")), "ADD");
    assert_string_equal(json_string_value(json_object_get(out, "id")), "c0ffee");
    assert_string_equal(json_string_value(json_object_get(out, "netns")), "/run/netns/x");
    assert_string_equal(json_string_value(json_object_get(out, "ifname")), "eth0");
    assert_string_equal(json_string_value(json_object_get(out, "args")),
                        "IgnoreUnknown=1;K8S_POD_NAME=p");
    char want_path[128];
    snprintf(want_path, sizeof(want_path), "/nonexistent:%s", dir);
    assert_string_equal(json_string_value(json_object_get(out, "path")), want_path);
    assert_string_equal(json_string_value(json_object_get(out, "home")), "unset");
    assert_read_whole_config_and_free(out, config);
}

static void failed(const char *type, int timeout, grpc_status_code code, const char *want)
{
    json_t *config = json_pack("{s:s}", "cniVersion", "1.0.0");
    json_t *out = NULL;
    struct crisp_err err = {0};
    if (run(type, timeout, config, &out, &err) >= 0)
        fail_msg("%s succeeded", type);
    assert_null(out);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    json_decref(config);
}

static void test_failures_say_what_happened(void **state)
{
    (void)state;
    failed("fail", 5, GRPC_STATUS_INTERNAL,
           "CNI plugin fail ADD failed: no IP addresses available: range 10.88.0.0/30 is full "
           "(code 11)");
    failed("crash", 5, GRPC_STATUS_INTERNAL,
           "CNI plugin crash ADD exited with status 2: panic: nil map");
    failed("garbage", 5, GRPC_STATUS_INTERNAL, "CNI plugin garbage ADD printed invalid JSON");
    failed("missing", 5, GRPC_STATUS_FAILED_PRECONDITION,
           "CNI plugin \"missing\" not found: no executable missing in cni_bin_dirs "
           "(/nonexistent:");
}

static void test_timeout_kills_the_plugin(void **state)
{
    (void)state;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    failed("slow", 1, GRPC_STATUS_DEADLINE_EXCEEDED,
           "CNI plugin slow ADD did not finish within 1 s (cni_plugin_timeout_seconds)");
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(b.tv_sec - a.tv_sec < 5);
}

/* The exit status counts, not the end of the output: a plugin that closes its stdout and
 * stderr and exits later is waited for, until the timeout. */
static void test_exit_after_the_output_closed(void **state)
{
    (void)state;
    failed("late", 5, GRPC_STATUS_INTERNAL, "CNI plugin late ADD exited with status 4");
    failed("linger", 1, GRPC_STATUS_DEADLINE_EXCEEDED,
           "CNI plugin linger ADD did not finish within 1 s (cni_plugin_timeout_seconds)");
}

/* Started first, given the config later (what RunPodSandbox does while it makes the netns), or
 * cancelled: then killed and reaped without ever reading a config. */
static void test_started_plugin_finishes_or_is_cancelled(void **state)
{
    (void)state;
    struct crisp_cni_plugin_dirs dirs = {bin_dirs, 2, 5};
    struct crisp_cni_proc p;
    struct crisp_err err = {0};
    assert_int_equal(crisp_cni_start(&dirs, "echo", &inv, &p, &err), 0);
    usleep(50 * 1000);
    json_t *config = json_pack("{s:s, s:s}", "cniVersion", "1.0.0", "name", "later");
    json_t *out = NULL;
    assert_int_equal(crisp_cni_finish(&dirs, &inv, &p, config, &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(out, "netns")), "/run/netns/x");
    assert_read_whole_config_and_free(out, config);

    assert_int_equal(crisp_cni_start(&dirs, "echo", &inv, &p, &err), 0);
    pid_t pid = p.pid;
    crisp_cni_cancel(&p);
    assert_int_equal(kill(pid, 0), -1); /* killed and reaped: no zombie either */
    assert_int_equal(errno, ESRCH);
    assert_int_equal(p.in, -1);

    assert_int_not_equal(crisp_cni_start(&dirs, "missing", &inv, &p, &err), 0);
    assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);
}

static void test_silent_and_non_reading_plugins(void **state)
{
    (void)state;
    json_t *out = NULL;
    struct crisp_err err = {0};
    json_t *config = json_pack("{s:s}", "cniVersion", "1.0.0");
    assert_int_equal(run("silent", 5, config, &out, &err), 0);
    assert_null(out); /* DEL may print nothing */
    char *big = calloc(1, 1 << 20);
    memset(big, 'x', (1 << 20) - 1);
    json_object_set_new(config, "padding", json_string(big));
    free(big);
    assert_int_equal(run("noread", 5, config, &out, &err), 0);
    assert_non_null(out);
    json_decref(out);
    json_decref(config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_gets_the_cni_environment_and_config),
        cmocka_unit_test(test_failures_say_what_happened),
        cmocka_unit_test(test_timeout_kills_the_plugin),
        cmocka_unit_test(test_silent_and_non_reading_plugins),
        cmocka_unit_test(test_exit_after_the_output_closed),
        cmocka_unit_test(test_started_plugin_finishes_or_is_cancelled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
