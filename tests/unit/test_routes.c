/* The route table built from the CRI service descriptors (pkg/server/routes.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <grpc/slice.h>

#include "api.pb-c.h"
#include "cri/runtime.h"
#include "server/routes.h"

static const ProtobufCServiceDescriptor *const cri_services[] = {
    &runtime__v1__runtime_service__descriptor,
    &runtime__v1__image_service__descriptor,
};
#define N_CRI_SERVICES (sizeof(cri_services) / sizeof(cri_services[0]))

static int setup(void **state)
{
    struct crisp_routes *routes = calloc(1, sizeof(*routes));
    struct crisp_err err = {0};
    if (!routes)
        return -1;
    if (crisp_routes_build(routes, cri_services, N_CRI_SERVICES, crisp_cri_handlers,
                           crisp_cri_n_handlers, &err) < 0) {
        fprintf(stderr, "crisp_routes_build: %s\n", err.msg);
        free(routes);
        return -1;
    }
    *state = routes;
    return 0;
}

static int teardown(void **state)
{
    crisp_routes_free(*state);
    free(*state);
    return 0;
}

static const struct crisp_route *find(const struct crisp_routes *routes, const char *path)
{
    return crisp_routes_find(routes, grpc_slice_from_static_string(path));
}

static void test_cri_services_are_runtime_and_image(void **state)
{
    (void)state;
    assert_int_equal(crisp_cri_n_services, 2);
    assert_ptr_equal(crisp_cri_services[0], &runtime__v1__runtime_service__descriptor);
    assert_ptr_equal(crisp_cri_services[1], &runtime__v1__image_service__descriptor);
}

static void test_route_count_is_35_plus_6(void **state)
{
    const struct crisp_routes *routes = *state;
    assert_int_equal(runtime__v1__runtime_service__descriptor.n_methods, 35);
    assert_int_equal(runtime__v1__image_service__descriptor.n_methods, 6);
    assert_int_equal(routes->len, 41);
}

static void test_version_has_handler(void **state)
{
    const struct crisp_route *r = find(*state, "/runtime.v1.RuntimeService/Version");
    assert_non_null(r);
    assert_string_equal(r->path, "/runtime.v1.RuntimeService/Version");
    assert_string_equal(r->method->name, "Version");
    assert_ptr_equal(r->method->input, &runtime__v1__version_request__descriptor);
    assert_non_null(r->handler);
    assert_string_equal(r->handler->method, "Version");
    assert_non_null(r->handler->unary);
}

static void test_method_found_without_handler(void **state)
{
    const struct crisp_route *r =
        find(*state, "/runtime.v1.RuntimeService/UpdatePodSandboxResources");
    assert_non_null(r);
    assert_string_equal(r->method->name, "UpdatePodSandboxResources");
    assert_null(r->handler);
}

static void test_unknown_method_not_found(void **state)
{
    assert_null(find(*state, "/runtime.v1.RuntimeService/Nope"));
}

static void test_empty_path_not_found(void **state)
{
    assert_null(find(*state, ""));
}

static void test_prefix_of_path_not_found(void **state)
{
    assert_null(find(*state, "/runtime.v1.RuntimeService/Versio"));
}

static void test_extension_of_path_not_found(void **state)
{
    assert_null(find(*state, "/runtime.v1.RuntimeService/VersionX"));
}

static void test_method_under_wrong_service_not_found(void **state)
{
    assert_null(find(*state, "/runtime.v1.ImageService/Version"));
}

/* The lookup uses the slice length, not a terminating NUL. */
static void test_lookup_honours_slice_length(void **state)
{
    static const char buf[] = "/runtime.v1.RuntimeService/VersionX";
    const struct crisp_route *r =
        crisp_routes_find(*state, grpc_slice_from_static_buffer(buf, sizeof(buf) - 2));
    assert_non_null(r);
    assert_string_equal(r->method->name, "Version");
}

static void test_every_path_is_service_slash_method(void **state)
{
    const struct crisp_routes *routes = *state;
    size_t matched = 0;
    for (size_t s = 0; s < N_CRI_SERVICES; s++) {
        for (unsigned m = 0; m < cri_services[s]->n_methods; m++) {
            const ProtobufCMethodDescriptor *md = &cri_services[s]->methods[m];
            char want[256];
            snprintf(want, sizeof(want), "/%s/%s", cri_services[s]->name, md->name);
            const struct crisp_route *r = find(routes, want);
            if (!r)
                fail_msg("no route for %s", want);
            assert_string_equal(r->path, want);
            assert_ptr_equal(r->method, md);
            matched++;
        }
    }
    assert_int_equal(matched, routes->len);
}

static void test_routes_sorted_and_unique(void **state)
{
    const struct crisp_routes *routes = *state;
    for (size_t i = 1; i < routes->len; i++)
        if (strcmp(routes->items[i - 1].path, routes->items[i].path) >= 0)
            fail_msg("%s before %s", routes->items[i - 1].path, routes->items[i].path);
}

static void test_each_handler_used_exactly_once(void **state)
{
    const struct crisp_routes *routes = *state;
    for (size_t h = 0; h < crisp_cri_n_handlers; h++) {
        size_t uses = 0;
        for (size_t i = 0; i < routes->len; i++) {
            if (routes->items[i].handler != &crisp_cri_handlers[h])
                continue;
            assert_string_equal(routes->items[i].method->name, crisp_cri_handlers[h].method);
            uses++;
        }
        assert_int_equal(uses, 1);
    }
}

static void test_handler_for_missing_method_fails(void **state)
{
    (void)state;
    static const struct crisp_handler handlers[] = {
        {.method = "Version"},
        {.method = "NoSuchMethod"},
    };
    struct crisp_routes routes = {0};
    struct crisp_err err = {0};
    assert_true(crisp_routes_build(&routes, cri_services, N_CRI_SERVICES, handlers, 2, &err) < 0);
    assert_non_null(strstr(err.msg, "NoSuchMethod"));
    assert_null(routes.items);
    assert_int_equal(routes.len, 0);
}

static void test_duplicate_handler_fails(void **state)
{
    (void)state;
    static const struct crisp_handler handlers[] = {
        {.method = "Status"},
        {.method = "Status"},
    };
    struct crisp_routes routes = {0};
    struct crisp_err err = {0};
    assert_true(crisp_routes_build(&routes, cri_services, N_CRI_SERVICES, handlers, 2, &err) < 0);
    assert_non_null(strstr(err.msg, "Status"));
    assert_null(routes.items);
}

static void test_no_handlers_leaves_every_route_unimplemented(void **state)
{
    (void)state;
    struct crisp_routes routes = {0};
    struct crisp_err err = {0};
    assert_int_equal(crisp_routes_build(&routes, cri_services, N_CRI_SERVICES, NULL, 0, &err), 0);
    assert_int_equal(routes.len, 41);
    for (size_t i = 0; i < routes.len; i++)
        assert_null(routes.items[i].handler);
    crisp_routes_free(&routes);
    assert_null(routes.items);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cri_services_are_runtime_and_image),
        T(test_route_count_is_35_plus_6),
        T(test_version_has_handler),
        T(test_method_found_without_handler),
        T(test_unknown_method_not_found),
        T(test_empty_path_not_found),
        T(test_prefix_of_path_not_found),
        T(test_extension_of_path_not_found),
        T(test_method_under_wrong_service_not_found),
        T(test_lookup_honours_slice_length),
        T(test_every_path_is_service_slash_method),
        T(test_routes_sorted_and_unique),
        T(test_each_handler_used_exactly_once),
        cmocka_unit_test(test_handler_for_missing_method_fails),
        cmocka_unit_test(test_duplicate_handler_fails),
        cmocka_unit_test(test_no_handlers_leaves_every_route_unimplemented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
