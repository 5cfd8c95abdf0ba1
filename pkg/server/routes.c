#include "server/routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static const struct crisp_handler *find_handler(const struct crisp_handler *handlers, size_t n,
                                                const char *method)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(handlers[i].method, method) == 0)
            return &handlers[i];
    return NULL;
}

static int route_cmp(const void *a, const void *b)
{
    return strcmp(((const struct crisp_route *)a)->path, ((const struct crisp_route *)b)->path);
}

/* Every handler must belong to some method: a typo would silently leave the
 * method UNIMPLEMENTED. */
static int check_handlers_used(const struct crisp_routes *routes,
                               const struct crisp_handler *handlers, size_t n_handlers,
                               struct crisp_err *err)
{
    for (size_t h = 0; h < n_handlers; h++) {
        size_t uses = 0;
        for (size_t i = 0; i < routes->len; i++)
            uses += routes->items[i].handler == &handlers[h];
        if (uses != 1)
            return crisp_errorf(err, GRPC_STATUS_INTERNAL, EINVAL,
                                "handler %s matches %zu methods, expected exactly 1",
                                handlers[h].method, uses);
    }
    return 0;
}

int crisp_routes_build(struct crisp_routes *routes,
                       const ProtobufCServiceDescriptor *const *services, size_t n_services,
                       const struct crisp_handler *handlers, size_t n_handlers,
                       struct crisp_err *err)
{
    size_t total = 0;
    for (size_t s = 0; s < n_services; s++)
        total += services[s]->n_methods;
    routes->items = crisp_xcalloc(total, sizeof(*routes->items));
    routes->len = 0;
    for (size_t s = 0; s < n_services; s++) {
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            const ProtobufCMethodDescriptor *md = &services[s]->methods[m];
            struct crisp_route *r = &routes->items[routes->len++];
            r->path = crisp_xasprintf("/%s/%s", services[s]->name, md->name);
            r->method = md;
            r->handler = find_handler(handlers, n_handlers, md->name);
        }
    }
    qsort(routes->items, routes->len, sizeof(*routes->items), route_cmp);
    for (size_t i = 0; i < routes->len; i++)
        routes->items[i].index = i;
    int rc = check_handlers_used(routes, handlers, n_handlers, err);
    if (rc < 0)
        crisp_routes_free(routes);
    return rc;
}

const struct crisp_route *crisp_routes_find(const struct crisp_routes *routes, grpc_slice path)
{
    const char *p = (const char *)GRPC_SLICE_START_PTR(path);
    size_t len = GRPC_SLICE_LENGTH(path);
    size_t lo = 0, hi = routes->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *candidate = routes->items[mid].path;
        size_t clen = strlen(candidate);
        int c = memcmp(candidate, p, clen < len ? clen : len);
        if (c == 0)
            c = (clen > len) - (clen < len);
        if (c == 0)
            return &routes->items[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void crisp_routes_free(struct crisp_routes *routes)
{
    for (size_t i = 0; i < routes->len; i++)
        free(routes->items[i].path);
    free(routes->items);
    routes->items = NULL;
    routes->len = 0;
}
