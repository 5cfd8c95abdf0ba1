/* pkg/monitor/spec_security: devices, host_devices, sys_writable and apparmor_profile in the
 * monitor spec: written, read back, handed to the launcher, malformed ones refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/spec.h"

static char dir[64], path[96];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/crisp-specsec-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/spec.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

static void write_text(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *argv[] = {"true", NULL};
    struct crisp_device devs[] = {{"/dev/fuse", 'c', 10, 229, 0600, 0, 0},
                                  {"/dev/disk/x", 'b', 8, 16, 0660, 0, 6}};
    struct crisp_device_rule rules[] = {{'a', -1, -1, "rwm"}};
    struct crisp_monitor_spec s = {.rootfs = "/r",
                                   .argv = argv,
                                   .devices = devs,
                                   .n_devices = 2,
                                   .host_devices = true,
                                   .sys_writable = true,
                                   .apparmor_profile = "my-profile",
                                   .device_rules = rules,
                                   .n_device_rules = 1};
    struct crisp_err err = {0};
    assert_int_equal(crisp_monitor_spec_write(path, &s, &err), 0);
    struct crisp_monitor_spec r;
    if (crisp_monitor_spec_read(path, &r, &err) < 0)
        fail_msg("read: %s", err.msg);
    assert_int_equal(r.n_devices, 2);
    assert_string_equal(r.devices[1].path, "/dev/disk/x");
    assert_int_equal(r.devices[1].type, 'b');
    assert_int_equal(r.devices[1].major, 8);
    assert_int_equal(r.devices[1].minor, 16);
    assert_int_equal(r.devices[1].mode, 0660);
    assert_int_equal(r.devices[1].gid, 6);
    assert_true(r.host_devices && r.sys_writable);
    assert_string_equal(r.apparmor_profile, "my-profile");
    assert_int_equal(r.n_device_rules, 0); /* crispd's own, never written */
    struct crisp_container_spec cs;
    assert_int_equal(crisp_monitor_spec_to_container_spec(&r, &cs), 0);
    assert_ptr_equal(cs.devices, r.devices);
    assert_int_equal(cs.n_devices, 2);
    assert_true(cs.host_devices && cs.sys_writable);
    assert_ptr_equal(cs.process.apparmor_profile, r.apparmor_profile);
    crisp_monitor_spec_free(&r);

    write_text("{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"]}}");
    assert_int_equal(crisp_monitor_spec_read(path, &r, &err), 0);
    assert_int_equal(r.n_devices, 0);
    assert_false(r.host_devices || r.sys_writable);
    assert_null(r.apparmor_profile);
    crisp_monitor_spec_free(&r);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"devices\":{}",
        "\"devices\":[{\"path\":\"dev/x\",\"type\":\"c\",\"major\":1,\"minor\":1,\"mode\":0,"
        "\"uid\":0,\"gid\":0}]",
        "\"devices\":[{\"path\":\"/dev/x\",\"type\":\"p\",\"major\":1,\"minor\":1,\"mode\":0,"
        "\"uid\":0,\"gid\":0}]",
        "\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":-1,\"minor\":1,\"mode\":0,"
        "\"uid\":0,\"gid\":0}]",
        "\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":1,\"minor\":1,\"mode\":"
        "65536,\"uid\":0,\"gid\":0}]",
        "\"host_devices\":\"yes\"",
        "\"apparmor_profile\":\"\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"version\":1,\"rootfs\":\"/r\",\"process\":{\"argv\":[\"true\"]},%s}", bad[i]);
        write_text(text);
        struct crisp_monitor_spec r;
        struct crisp_err err = {0};
        assert_int_equal(crisp_monitor_spec_read(path, &r, &err), -EINVAL);
        assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
        assert_non_null(strstr(err.msg, "monitor spec"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
