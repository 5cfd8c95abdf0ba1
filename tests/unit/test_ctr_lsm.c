/* pkg/container/ctr_lsm: AppArmor profile choice and SELinux handling against fake host files
 * (AppArmor on or off, profiles loaded or not, SELinux on or off). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "container/ctr_lsm.h"

static char dir[64], enabled[96], profiles[96], enforce[96];
static struct crisp_lsm_host host;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/crisp-lsm-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(enabled, sizeof(enabled), "%s/enabled", dir);
    snprintf(profiles, sizeof(profiles), "%s/profiles", dir);
    snprintf(enforce, sizeof(enforce), "%s/enforce", dir);
    host = (struct crisp_lsm_host){enabled, profiles, enforce};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(enabled);
    unlink(profiles);
    unlink(enforce);
    return rmdir(dir);
}

static void apparmor_on(const char *loaded)
{
    write_file(enabled, "Y\n");
    write_file(profiles, loaded);
}

static void apparmor_off(void)
{
    unlink(enabled);
    unlink(profiles);
}

static Runtime__V1__SecurityProfile profile_of(int type, const char *ref)
{
    Runtime__V1__SecurityProfile p = RUNTIME__V1__SECURITY_PROFILE__INIT;
    p.profile_type = type;
    p.localhost_ref = (char *)ref;
    return p;
}

static int choose(Runtime__V1__LinuxContainerSecurityContext *sc, char **out, struct crisp_err *err)
{
    return crisp_ctr_apparmor_profile(sc, &host, out, err);
}

static void test_without_apparmor(void **state)
{
    (void)state;
    apparmor_off();
    Runtime__V1__LinuxContainerSecurityContext sc =
        RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
    char *p = (char *)"x";
    struct crisp_err err;
    assert_int_equal(choose(NULL, &p, &err), 0);
    assert_null(p);
    Runtime__V1__SecurityProfile sp =
        profile_of(RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault, "");
    sc.apparmor = &sp;
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_null(p);
    sp = profile_of(RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost, "myprof");
    assert_int_equal(choose(&sc, &p, &err), -ENOTSUP);
    assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.msg, "security_context.apparmor.localhost_ref"));
    assert_non_null(strstr(err.msg, "not enabled"));
}

static void test_with_apparmor(void **state)
{
    (void)state;
    apparmor_on("myprof (enforce)\nother//child (complain)\n");
    Runtime__V1__LinuxContainerSecurityContext sc =
        RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
    Runtime__V1__SecurityProfile sp =
        profile_of(RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost, "myprof");
    sc.apparmor = &sp;
    char *p = NULL;
    struct crisp_err err;
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_string_equal(p, "myprof");
    free(p);
    sp.localhost_ref = (char *)"myp"; /* a prefix of a loaded name is not that name */
    assert_int_equal(choose(&sc, &p, &err), -ENOENT);
    assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);
    sp.localhost_ref = (char *)"bad name";
    assert_int_equal(choose(&sc, &p, &err), -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    /* RuntimeDefault: crisp-default only when loaded */
    sc.apparmor = NULL;
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_null(p);
    apparmor_on("crisp-default (enforce)\n");
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_string_equal(p, CRISP_APPARMOR_DEFAULT_PROFILE);
    free(p);
    sc.privileged = true; /* privileged runs unconfined by default */
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_null(p);
}

static void test_legacy_strings(void **state)
{
    (void)state;
    apparmor_on("crisp-default (enforce)\nlegacy (enforce)\n");
    Runtime__V1__LinuxContainerSecurityContext sc =
        RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
    char *p = NULL;
    struct crisp_err err;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    sc.apparmor_profile = (char *)"unconfined";
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_null(p);
    sc.apparmor_profile = (char *)"localhost/legacy";
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_string_equal(p, "legacy");
    free(p);
    sc.apparmor_profile = (char *)"runtime/default";
    assert_int_equal(choose(&sc, &p, &err), 0);
    assert_string_equal(p, CRISP_APPARMOR_DEFAULT_PROFILE);
    free(p);
    sc.apparmor_profile = (char *)"docker-default";
#pragma GCC diagnostic pop
    assert_int_equal(choose(&sc, &p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "security_context.apparmor_profile"));
}

static void test_selinux(void **state)
{
    (void)state;
    Runtime__V1__LinuxContainerSecurityContext sc =
        RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
    Runtime__V1__SELinuxOption o = RUNTIME__V1__SELINUX_OPTION__INIT;
    o.level = (char *)"s0:c1,c2";
    sc.selinux_options = &o;
    struct crisp_err err;
    unlink(enforce);
    assert_int_equal(crisp_ctr_selinux_check(&sc, &host, &err), 0);
    write_file(enforce, "1");
    assert_int_equal(crisp_ctr_selinux_check(&sc, &host, &err), -ENOTSUP);
    assert_int_equal(err.code, GRPC_STATUS_UNIMPLEMENTED);
    o.level = (char *)"";
    assert_int_equal(crisp_ctr_selinux_check(&sc, &host, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_apparmor),
        cmocka_unit_test(test_with_apparmor),
        cmocka_unit_test(test_legacy_strings),
        cmocka_unit_test(test_selinux),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
