/* Image reference parsing and normalisation (pkg/image/reference.c), checked
 * against what distribution/reference v0.6.0's ParseNormalizedNamed +
 * TagNameOnly return for the same input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/reference.h"
#include "support_fs.h"

#define HEX64   "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
#define DIGEST  "sha256:" HEX64
#define DIGEST2 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX32   "0123456789abcdef0123456789abcdef"
#define HEX96   HEX32 HEX32 HEX32
#define HEX128  HEX32 HEX32 HEX32 HEX32

static void assert_str_or_null(const char *what, const char *got, const char *want)
{
    if (!want && got)
        fail_msg("%s: got \"%s\", expected NULL", what, got);
    if (want && !got)
        fail_msg("%s: got NULL, expected \"%s\"", what, want);
    if (want && strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", expected \"%s\"", what, got, want);
}

/* Parses in and checks every field and the derived strings; the name is
 * domain/path and the repo digest is checked both from the reference and
 * with an explicit digest. */
static void assert_ref(const char *in, const char *domain, const char *path, const char *tag,
                       const char *digest, const char *string)
{
    struct crisp_image_ref ref;
    struct crisp_err err = {0};
    int r = crisp_image_ref_parse(in, &ref, &err);
    if (r != 0)
        fail_msg("\"%s\" refused: %s", in, err.msg);
    assert_str_or_null("domain", ref.domain, domain);
    assert_str_or_null("path", ref.path, path);
    assert_str_or_null("tag", ref.tag, tag);
    assert_str_or_null("digest", ref.digest, digest);

    char name[512];
    snprintf(name, sizeof(name), "%s/%s", domain, path);
    char *got = crisp_image_ref_name(&ref);
    assert_str_or_null("name", got, name);
    free(got);

    got = crisp_image_ref_string(&ref);
    assert_str_or_null("string", got, string);
    free(got);

    char want[1024];
    snprintf(want, sizeof(want), "%s:%s", name, tag ? tag : "");
    got = crisp_image_ref_repo_tag(&ref);
    assert_str_or_null("repo_tag", got, tag ? want : NULL);
    free(got);

    snprintf(want, sizeof(want), "%s@%s", name, digest ? digest : "");
    got = crisp_image_ref_repo_digest(&ref, NULL);
    assert_str_or_null("repo_digest", got, digest ? want : NULL);
    free(got);

    snprintf(want, sizeof(want), "%s@%s", name, DIGEST2);
    got = crisp_image_ref_repo_digest(&ref, DIGEST2);
    assert_str_or_null("repo_digest(DIGEST2)", got, want);
    free(got);

    crisp_image_ref_free(&ref);
    assert_null(ref.domain);
    assert_null(ref.path);
    assert_null(ref.tag);
    assert_null(ref.digest);
}

/* The parse fails with INVALID_ARGUMENT, a message that starts with
 * `invalid image reference "<in>": ` and contains part and detail, and
 * leaves the reference empty. */
static void assert_refused_msg(const char *in, const char *quoted, const char *part,
                               const char *detail)
{
    struct crisp_image_ref ref;
    memset(&ref, 0xa5, sizeof(ref));
    struct crisp_err err = {0};
    int r = crisp_image_ref_parse(in, &ref, &err);
    if (r >= 0) {
        char *s = crisp_image_ref_string(&ref);
        fail_msg("\"%s\" accepted as %s", in, s);
    }
    assert_int_equal(r, -EINVAL);
    assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
    char prefix[1200];
    snprintf(prefix, sizeof(prefix), "invalid image reference \"%s\": ", quoted);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("message does not start with '%s': '%s'", prefix, err.msg);
    sup_assert_contains(err.msg + strlen(prefix), part);
    sup_assert_contains(err.msg + strlen(prefix), detail);
    assert_null(ref.domain);
    assert_null(ref.path);
    assert_null(ref.tag);
    assert_null(ref.digest);
    crisp_image_ref_free(&ref);
}

static void assert_refused(const char *in, const char *part, const char *detail)
{
    assert_refused_msg(in, in, part, detail);
}

/* ---- valid references ---- */

static void test_familiar_name(void **state)
{
    (void)state;
    assert_ref("busybox", "docker.io", "library/busybox", "latest", NULL,
               "docker.io/library/busybox:latest");
}

static void test_familiar_name_with_tag(void **state)
{
    (void)state;
    assert_ref("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL,
               "docker.io/library/busybox:1.36");
}

static void test_user_repository(void **state)
{
    (void)state;
    assert_ref("user/x", "docker.io", "user/x", "latest", NULL, "docker.io/user/x:latest");
    assert_ref("user/x/y", "docker.io", "user/x/y", "latest", NULL, "docker.io/user/x/y:latest");
}

static void test_canonical_name_parses_to_itself(void **state)
{
    (void)state;
    assert_ref("docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", NULL,
               "docker.io/library/busybox:latest");
}

static void test_docker_io_single_component_gets_library(void **state)
{
    (void)state;
    assert_ref("docker.io/x", "docker.io", "library/x", "latest", NULL,
               "docker.io/library/x:latest");
}

static void test_index_docker_io_is_an_alias(void **state)
{
    (void)state;
    assert_ref("index.docker.io/x", "docker.io", "library/x", "latest", NULL,
               "docker.io/library/x:latest");
    assert_ref("index.docker.io/library/x:1", "docker.io", "library/x", "1", NULL,
               "docker.io/library/x:1");
    assert_ref("index.docker.io/user/x", "docker.io", "user/x", "latest", NULL,
               "docker.io/user/x:latest");
}

static void test_registry_1_docker_io_is_not_an_alias(void **state)
{
    (void)state;
    assert_ref("registry-1.docker.io/x", "registry-1.docker.io", "x", "latest", NULL,
               "registry-1.docker.io/x:latest");
}

static void test_localhost_domain(void **state)
{
    (void)state;
    assert_ref("localhost/x", "localhost", "x", "latest", NULL, "localhost/x:latest");
}

static void test_localhost_with_port_and_tag(void **state)
{
    (void)state;
    assert_ref("localhost:5000/x:1", "localhost:5000", "x", "1", NULL, "localhost:5000/x:1");
}

/* Without a "/" the first component is never a domain: "localhost:5000" is
 * the official image "localhost" with tag "5000". */
static void test_bare_localhost_is_a_name(void **state)
{
    (void)state;
    assert_ref("localhost", "docker.io", "library/localhost", "latest", NULL,
               "docker.io/library/localhost:latest");
    assert_ref("localhost:5000", "docker.io", "library/localhost", "5000", NULL,
               "docker.io/library/localhost:5000");
    assert_ref("example.com", "docker.io", "library/example.com", "latest", NULL,
               "docker.io/library/example.com:latest");
}

static void test_registry_k8s_io(void **state)
{
    (void)state;
    assert_ref("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", NULL,
               "registry.k8s.io/pause:3.9");
}

static void test_domain_with_port_without_dot(void **state)
{
    (void)state;
    assert_ref("myregistry:5000/team/app:v2", "myregistry:5000", "team/app", "v2", NULL,
               "myregistry:5000/team/app:v2");
}

static void test_ipv4_domain(void **state)
{
    (void)state;
    assert_ref("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", NULL,
               "127.0.0.1:5000/x:latest");
}

static void test_ipv6_domain(void **state)
{
    (void)state;
    assert_ref("[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, "[::1]:5000/x:latest");
    assert_ref("[fd00::1]:5000/a/b:t", "[fd00::1]:5000", "a/b", "t", NULL, "[fd00::1]:5000/a/b:t");
    assert_ref("[FD00::1]/x", "[FD00::1]", "x", "latest", NULL, "[FD00::1]/x:latest");
}

/* docker's splitDockerDomain: a first component with an uppercase letter is
 * a domain (kept as typed); the path must still be lowercase. */
static void test_uppercase_first_component_is_a_domain(void **state)
{
    (void)state;
    assert_ref("Foo/bar", "Foo", "bar", "latest", NULL, "Foo/bar:latest");
    assert_ref("LOCALHOST/x", "LOCALHOST", "x", "latest", NULL, "LOCALHOST/x:latest");
    assert_ref("Docker.io/x", "Docker.io", "x", "latest", NULL, "Docker.io/x:latest");
}

static void test_uppercase_tag_is_fine(void **state)
{
    (void)state;
    assert_ref("x:A.b-C_9", "docker.io", "library/x", "A.b-C_9", NULL,
               "docker.io/library/x:A.b-C_9");
    assert_ref("x:_", "docker.io", "library/x", "_", NULL, "docker.io/library/x:_");
}

static void test_digest_only_has_no_tag(void **state)
{
    (void)state;
    assert_ref("busybox@" DIGEST, "docker.io", "library/busybox", NULL, DIGEST,
               "docker.io/library/busybox@" DIGEST);
}

static void test_tag_and_digest_keeps_both(void **state)
{
    (void)state;
    assert_ref("busybox:1.36@" DIGEST, "docker.io", "library/busybox", "1.36", DIGEST,
               "docker.io/library/busybox:1.36@" DIGEST);
}

static void test_deep_path_with_tag_and_digest(void **state)
{
    (void)state;
    assert_ref("gcr.io/a/b/c:v1@" DIGEST, "gcr.io", "a/b/c", "v1", DIGEST,
               "gcr.io/a/b/c:v1@" DIGEST);
}

static void test_path_separators(void **state)
{
    (void)state;
    assert_ref("team/a.b_c__d-e---f/g0", "docker.io", "team/a.b_c__d-e---f/g0", "latest", NULL,
               "docker.io/team/a.b_c__d-e---f/g0:latest");
    assert_ref("quay.io/x-y/z.w_v", "quay.io", "x-y/z.w_v", "latest", NULL,
               "quay.io/x-y/z.w_v:latest");
}

static void test_tag_of_128_characters(void **state)
{
    (void)state;
    char in[160], want[200], tag[129];
    memset(tag, 'a', 128);
    tag[128] = '\0';
    snprintf(in, sizeof(in), "x:%s", tag);
    snprintf(want, sizeof(want), "docker.io/library/x:%s", tag);
    assert_ref(in, "docker.io", "library/x", tag, NULL, want);
}

/* distribution/reference v0.6.0 limits the path to 255 characters, the
 * domain is not counted; "library/" is part of the path. */
static void test_path_of_255_characters(void **state)
{
    (void)state;
    char in[400], path[256], want[400];
    memset(path, 'a', 255);
    path[255] = '\0';
    memcpy(path, "library/", 8);
    snprintf(in, sizeof(in), "%s", path + 8);
    snprintf(want, sizeof(want), "docker.io/%s:latest", path);
    assert_ref(in, "docker.io", path, "latest", NULL, want);

    memset(path, 'b', 255);
    snprintf(in, sizeof(in), "registry.example.com/%s", path);
    snprintf(want, sizeof(want), "registry.example.com/%s:latest", path);
    assert_ref(in, "registry.example.com", path, "latest", NULL, want);
}

/* go-digest accepts sha384 and sha512 too; crisp parses them and leaves it
 * to the puller; crisp_digest_valid stays sha256-only. */
static void test_sha384_and_sha512_digests(void **state)
{
    (void)state;
    assert_ref("x@sha384:" HEX96, "docker.io", "library/x", NULL, "sha384:" HEX96,
               "docker.io/library/x@sha384:" HEX96);
    assert_ref("x@sha512:" HEX128, "docker.io", "library/x", NULL, "sha512:" HEX128,
               "docker.io/library/x@sha512:" HEX128);
    assert_false(crisp_digest_valid("sha512:" HEX128));
}

/* Upstream matches "my_reg.io/x" (not a host name: "_") as a domain-less
 * path with the same string form; the first component stays the domain. */
static void test_underscore_domain_quirk(void **state)
{
    (void)state;
    assert_ref("my_reg.io/x:1", "my_reg.io", "x", "1", NULL, "my_reg.io/x:1");
}

/* Upstream quirk the caller must know: "sha256:<hex>" is not an image id
 * here but the official image "sha256" with a 64-character tag. Callers try
 * crisp_image_id_parse first. */
static void test_prefixed_id_is_a_tag(void **state)
{
    (void)state;
    assert_ref("sha256:" HEX64, "docker.io", "library/sha256", HEX64, NULL,
               "docker.io/library/sha256:" HEX64);
}

/* ---- invalid references ---- */

static void test_refuses_empty(void **state)
{
    (void)state;
    assert_refused("", "reference is empty", "expected name[:tag][@digest]");
    assert_refused_msg(NULL, "", "reference is empty", "expected");
}

static void test_refuses_whitespace(void **state)
{
    (void)state;
    assert_refused(" busybox", "repository path", "invalid character \" \"");
    assert_refused("busybox ", "repository path", "invalid character \" \"");
    assert_refused("busy box", "repository path", "invalid character \" \"");
    assert_refused_msg("\tbusybox", "\\x09busybox", "repository path", "invalid character");
    assert_refused("busybox:1.0 ", "tag", "invalid character \" \"");
    assert_refused("gcr.io /x", "domain", "invalid character \" \"");
}

static void test_refuses_uppercase_repository(void **state)
{
    (void)state;
    struct crisp_image_ref ref;
    struct crisp_err err = {0};
    assert_int_equal(crisp_image_ref_parse("Busybox", &ref, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "invalid image reference \"Busybox\": repository name must be lowercase");
    assert_refused("library/Busybox", "repository name", "must be lowercase");
    assert_refused("gcr.io/Foo/bar:1", "repository name", "must be lowercase");
    assert_refused("user/X@" DIGEST, "repository name", "must be lowercase");
}

static void test_refuses_id_as_name(void **state)
{
    (void)state;
    assert_refused(HEX64, "repository name", "image id");
}

static void test_refuses_empty_name(void **state)
{
    (void)state;
    assert_refused(":tag", "repository name is empty", "expected name[:tag][@digest]");
    assert_refused("@" DIGEST, "repository name is empty", "expected name[:tag][@digest]");
}

static void test_refuses_trailing_colon(void **state)
{
    (void)state;
    assert_refused("name:", "tag is empty", "expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    assert_refused("name:@" DIGEST, "tag is empty", "expected");
}

static void test_refuses_trailing_at(void **state)
{
    (void)state;
    assert_refused("name@", "digest is empty", "expected sha256:<64 lowercase hex>");
    assert_refused("name:1@", "digest is empty", "expected sha256:<64 lowercase hex>");
}

static void test_refuses_empty_path_components(void **state)
{
    (void)state;
    assert_refused("a//b", "repository path \"a//b\"", "empty component (\"//\")");
    assert_refused("gcr.io/a//b", "repository path \"a//b\"", "empty component");
    assert_refused("/a", "repository path \"/a\"", "starts with \"/\"");
    assert_refused("a/", "repository path \"a/\"", "ends with \"/\"");
    assert_refused("docker.io/", "repository path", "after domain \"docker.io\" is empty");
    assert_refused("localhost/:1", "repository path", "after domain \"localhost\" is empty");
}

static void test_refuses_bad_path_separators(void **state)
{
    (void)state;
    assert_refused("a..b", "repository path component \"a..b\"", "separator \"..\"");
    assert_refused("a-_b", "repository path component \"a-_b\"", "separator \"-_\"");
    assert_refused("a___b", "repository path component \"a___b\"", "separator \"___\"");
    assert_refused("user/_a", "repository path component \"_a\"", "must start and end");
    assert_refused("a-", "repository path component \"a-\"", "must start and end");
    assert_refused("a+b", "repository path", "invalid character \"+\"");
}

static void test_refuses_path_over_255(void **state)
{
    (void)state;
    char in[300];
    memset(in, 'a', 248);
    in[248] = '\0'; /* library/ + 248 = 256 */
    struct crisp_image_ref ref;
    struct crisp_err err = {0};
    assert_int_equal(crisp_image_ref_parse(in, &ref, &err), -EINVAL);
    sup_assert_contains(err.msg, "repository path is 256 characters, at most 255 allowed");

    memset(in, 'a', 256);
    memcpy(in, "gcr.io/", 7);
    in[256 + 7] = '\0';
    memset(in + 7, 'b', 256);
    assert_int_equal(crisp_image_ref_parse(in, &ref, &err), -EINVAL);
    sup_assert_contains(err.msg, "repository path is 256 characters, at most 255 allowed");
}

static void test_refuses_long_tag(void **state)
{
    (void)state;
    char in[200];
    memcpy(in, "x:", 2);
    memset(in + 2, 't', 129);
    in[131] = '\0';
    assert_refused(in, "tag is 129 characters", "at most 128 allowed");
}

static void test_refuses_bad_tags(void **state)
{
    (void)state;
    assert_refused("x:.a", "tag \".a\"", "must start with a letter, a digit or \"_\"");
    assert_refused("x:-a", "tag \"-a\"", "must start with a letter, a digit or \"_\"");
    assert_refused("x:a+b", "tag \"a+b\"", "invalid character \"+\"");
}

static void test_refuses_bad_digests(void **state)
{
    (void)state;
    assert_refused("a@sha256:short", "digest \"sha256:short\"",
                   "expected sha256:<64 lowercase hex>");
    assert_refused("a@sha256:" HEX32, "digest", "has 32 hex characters (expected sha256:<64");
    assert_refused("a@" DIGEST "0", "digest", "has 65 hex characters");
    assert_refused("a@sha256:7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA",
                   "digest", "other than lowercase hex");
    assert_refused("a@sha512:" HEX64, "digest", "expected sha512:<128 lowercase hex>");
    assert_refused("a@md5:" HEX32, "digest algorithm \"md5\"", "not supported");
    assert_refused("a@SHA256:" HEX64, "digest algorithm \"SHA256\"", "not supported");
    assert_refused("a@sha256+b64:" HEX64, "digest algorithm", "not supported");
    assert_refused("a@" HEX64, "digest", "is not algorithm:hex");
    assert_refused("a@sha256:", "digest", "is not algorithm:hex");
    assert_refused("a@:" HEX64, "digest", "is not algorithm:hex");
    assert_refused("a@" DIGEST "@" DIGEST, "digest", "other than lowercase hex");
}

static void test_refuses_bad_domains(void **state)
{
    (void)state;
    assert_refused("-bad.com/x", "domain \"-bad.com\"", "not a valid host name");
    assert_refused("a..b/x", "domain \"a..b\"", "not a valid host name");
    assert_refused("bad-.com/x", "domain \"bad-.com\"", "not a valid host name");
    assert_refused("gcr.io:/x", "domain \"gcr.io:\"", "empty port");
    assert_refused("gcr.io:abc/x", "domain \"gcr.io:abc\"", "port must be digits");
    assert_refused("busybox:1.0/x", "domain \"busybox:1.0\"", "port must be digits");
    assert_refused("::1/x", "domain \"::1\"", "no host name");
    assert_refused(":5000/x", "domain \":5000\"", "no host name");
    assert_refused("[::1/x", "domain \"[::1\"", "no closing \"]\"");
    assert_refused("[]:5000/x", "domain \"[]:5000\"", "empty IPv6 address");
    assert_refused("[fe80::1%eth0]/x", "domain", "hex digits and \":\"");
    assert_refused("[::ffff:1.2.3.4]/x", "domain", "hex digits and \":\"");
    assert_refused("[::1]x/x", "domain \"[::1]x\"", "expected \":\" and a port number");
    /* Not rescued by the path-component quirk: "_" next to "." is no separator. */
    assert_refused("my_.reg.io/x", "domain \"my_.reg.io\"", "invalid character \"_\"");
}

static void test_message_escapes_and_truncates(void **state)
{
    (void)state;
    assert_refused_msg("a\nb\"c", "a\\x0ab\\\"c", "repository path", "invalid character");

    char in[4000];
    memset(in, 'A', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    struct crisp_image_ref ref;
    struct crisp_err err = {0};
    assert_int_equal(crisp_image_ref_parse(in, &ref, &err), -EINVAL);
    assert_true(strlen(err.msg) < 400);
    sup_assert_contains(err.msg, "...\": repository name must be lowercase");
}

static void test_null_err_is_allowed(void **state)
{
    (void)state;
    struct crisp_image_ref ref;
    assert_int_equal(crisp_image_ref_parse("Busybox", &ref, NULL), -EINVAL);
    assert_null(ref.path);
    assert_int_equal(crisp_image_ref_parse("busybox", &ref, NULL), 0);
    crisp_image_ref_free(&ref);
    crisp_image_ref_free(NULL);
}

/* ---- digests and image ids ---- */

static void test_digest_valid(void **state)
{
    (void)state;
    assert_true(crisp_digest_valid(DIGEST));
    assert_false(crisp_digest_valid(NULL));
    assert_false(crisp_digest_valid(""));
    assert_false(crisp_digest_valid(HEX64));
    assert_false(crisp_digest_valid("sha256:"));
    assert_false(crisp_digest_valid(DIGEST "0"));
    assert_false(crisp_digest_valid("sha256:" HEX32));
    assert_false(crisp_digest_valid("SHA256:" HEX64));
    assert_false(crisp_digest_valid(
        "sha256:7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA"));
    assert_false(crisp_digest_valid("sha384:" HEX96));
}

static void test_image_id_parse(void **state)
{
    (void)state;
    char out[72];
    assert_true(crisp_image_id_parse(HEX64, out));
    assert_string_equal(out, DIGEST);
    memset(out, 'x', sizeof(out));
    assert_true(crisp_image_id_parse(DIGEST, out));
    assert_string_equal(out, DIGEST);

    const char *bad[] = {
        NULL,
        "",
        "sha256:",
        "7cc4b5ae",
        HEX64 "0",
        "sha256:" HEX32,
        "7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA",
        "sha512:" HEX64,
        "busybox",
        "sha256:sha256:" HEX64,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 'x', sizeof(out));
        if (crisp_image_id_parse(bad[i], out))
            fail_msg("\"%s\" accepted as an image id", bad[i] ? bad[i] : "(null)");
        assert_string_equal(out, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_familiar_name),
        cmocka_unit_test(test_familiar_name_with_tag),
        cmocka_unit_test(test_user_repository),
        cmocka_unit_test(test_canonical_name_parses_to_itself),
        cmocka_unit_test(test_docker_io_single_component_gets_library),
        cmocka_unit_test(test_index_docker_io_is_an_alias),
        cmocka_unit_test(test_registry_1_docker_io_is_not_an_alias),
        cmocka_unit_test(test_localhost_domain),
        cmocka_unit_test(test_localhost_with_port_and_tag),
        cmocka_unit_test(test_bare_localhost_is_a_name),
        cmocka_unit_test(test_registry_k8s_io),
        cmocka_unit_test(test_domain_with_port_without_dot),
        cmocka_unit_test(test_ipv4_domain),
        cmocka_unit_test(test_ipv6_domain),
        cmocka_unit_test(test_uppercase_first_component_is_a_domain),
        cmocka_unit_test(test_uppercase_tag_is_fine),
        cmocka_unit_test(test_digest_only_has_no_tag),
        cmocka_unit_test(test_tag_and_digest_keeps_both),
        cmocka_unit_test(test_deep_path_with_tag_and_digest),
        cmocka_unit_test(test_path_separators),
        cmocka_unit_test(test_tag_of_128_characters),
        cmocka_unit_test(test_path_of_255_characters),
        cmocka_unit_test(test_sha384_and_sha512_digests),
        cmocka_unit_test(test_underscore_domain_quirk),
        cmocka_unit_test(test_prefixed_id_is_a_tag),
        cmocka_unit_test(test_refuses_empty),
        cmocka_unit_test(test_refuses_whitespace),
        cmocka_unit_test(test_refuses_uppercase_repository),
        cmocka_unit_test(test_refuses_id_as_name),
        cmocka_unit_test(test_refuses_empty_name),
        cmocka_unit_test(test_refuses_trailing_colon),
        cmocka_unit_test(test_refuses_trailing_at),
        cmocka_unit_test(test_refuses_empty_path_components),
        cmocka_unit_test(test_refuses_bad_path_separators),
        cmocka_unit_test(test_refuses_path_over_255),
        cmocka_unit_test(test_refuses_long_tag),
        cmocka_unit_test(test_refuses_bad_tags),
        cmocka_unit_test(test_refuses_bad_digests),
        cmocka_unit_test(test_refuses_bad_domains),
        cmocka_unit_test(test_message_escapes_and_truncates),
        cmocka_unit_test(test_null_err_is_allowed),
        cmocka_unit_test(test_digest_valid),
        cmocka_unit_test(test_image_id_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
