/* CNI network config parsing and the choice of the first valid file
 * (pkg/network/cni_conf.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "network/cni_conf.h"
#include "util/fs.h"

static const char bridge_list[] =
    "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":[{\"type\":\"bridge\"},"
    "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}";

static void refused(const char *text, bool is_list, const char *why)
{
    struct crisp_cni_conf conf;
    struct crisp_err err = {0};
    int r = crisp_cni_conf_parse("/x/f", text, is_list, &conf, &err);
    if (r >= 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    if (!strstr(err.msg, why) || strncmp(err.msg, "/x/f: ", 6) != 0)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, why);
}

static void test_parses_a_conflist(void **state)
{
    (void)state;
    struct crisp_cni_conf conf;
    struct crisp_err err = {0};
    assert_int_equal(crisp_cni_conf_parse("/x/f", bridge_list, true, &conf, &err), 0);
    assert_string_equal(conf.name, "net");
    assert_string_equal(conf.cni_version, "1.0.0");
    assert_int_equal(json_array_size(json_object_get(conf.list, "plugins")), 2);
    crisp_cni_conf_free(&conf);
}

static void test_single_plugin_becomes_a_list(void **state)
{
    (void)state;
    struct crisp_cni_conf conf;
    struct crisp_err err = {0};
    const char *text = "{\"cniVersion\":\"0.4.0\",\"name\":\"one\",\"type\":\"bridge\","
                       "\"bridge\":\"br0\"}";
    assert_int_equal(crisp_cni_conf_parse("/x/f", text, false, &conf, &err), 0);
    json_t *plugins = json_object_get(conf.list, "plugins");
    assert_int_equal(json_array_size(plugins), 1);
    json_t *p = json_array_get(plugins, 0);
    assert_string_equal(json_string_value(json_object_get(p, "type")), "bridge");
    assert_string_equal(json_string_value(json_object_get(p, "bridge")), "br0");
    assert_null(json_object_get(p, "name"));
    assert_string_equal(json_string_value(json_object_get(conf.list, "name")), "one");
    crisp_cni_conf_free(&conf);
}

static void test_refuses_malformed_configs(void **state)
{
    (void)state;
    refused("{", true, "invalid JSON");
    refused("[]", true, "expected a JSON object");
    refused("{\"name\":\"n\",\"plugins\":[{\"type\":\"b\"}]}", true, "cniVersion");
    refused("{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"plugins\":[{\"type\":\"b\"}]}", true,
            "cniVersion \"0.3.1\" is not supported");
    refused("{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"b\"}]}", true, "\"name\"");
    refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[]}", true, "\"plugins\"");
    refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{}]}", true, "plugins[0]");
    refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"../sh\"}]}", true,
            "without '/'");
    refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"b\"}],"
            "\"name\":\"dup\"}",
            true, "invalid JSON");
    refused("{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", false, "plugins[0]");
}

static void test_versions(void **state)
{
    (void)state;
    assert_true(crisp_cni_version_supported("0.4.0"));
    assert_true(crisp_cni_version_supported("1.0.0"));
    assert_true(crisp_cni_version_supported("1.1.0"));
    assert_false(crisp_cni_version_supported("0.3.1"));
    assert_false(crisp_cni_version_supported("2.0.0"));
    assert_false(crisp_cni_version_supported(NULL));
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    struct crisp_err err;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(crisp_write_file_atomic(path, text, strlen(text), 0644, &err), 0);
}

static void test_load_dir_takes_the_first_valid_file_by_name(void **state)
{
    (void)state;
    char dir[] = "/tmp/crisp-cni-conf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct crisp_cni_conf conf;
    struct crisp_err err = {0};
    assert_int_equal(crisp_cni_conf_load_dir(dir, &conf, &err), -ENOENT);
    assert_int_equal(err.code, GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(err.msg, dir));
    assert_non_null(strstr(err.msg, "has no network config (*.conflist, *.conf, *.json)"));

    put(dir, "05-broken.conflist", "{nope");
    put(dir, "README", bridge_list); /* not a config name */
    put(dir, "20-b.conflist", bridge_list);
    assert_int_equal(crisp_cni_conf_load_dir(dir, &conf, &err), 0);
    assert_non_null(strstr(conf.path, "20-b.conflist"));
    crisp_cni_conf_free(&conf);

    put(dir, "10-a.conf", "{\"cniVersion\":\"1.1.0\",\"name\":\"a\",\"type\":\"ptp\"}");
    assert_int_equal(crisp_cni_conf_load_dir(dir, &conf, &err), 0);
    assert_string_equal(conf.name, "a");
    crisp_cni_conf_free(&conf);

    char path[512];
    const char *names[] = {"05-broken.conflist", "README", "20-b.conflist", "10-a.conf"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i + 2]);
        unlink(path);
    }
    assert_int_equal(crisp_cni_conf_load_dir(dir, &conf, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "05-broken.conflist: invalid JSON"));
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_a_conflist),
        cmocka_unit_test(test_single_plugin_becomes_a_list),
        cmocka_unit_test(test_refuses_malformed_configs),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_load_dir_takes_the_first_valid_file_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
