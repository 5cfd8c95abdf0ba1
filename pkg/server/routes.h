/* Route table: "/<package>.<Service>/<Method>" -> method descriptor and handler. */
#pragma once

#include <grpc/slice.h>

#include "server/server.h"

struct crisp_route {
    char *path;                              /* "/runtime.v1.RuntimeService/Version" */
    const ProtobufCMethodDescriptor *method; /* request/response types */
    const struct crisp_handler *handler;     /* NULL: not implemented yet */
    size_t index;                            /* position in the table (metrics slots) */
};

struct crisp_routes {
    struct crisp_route *items; /* sorted by path */
    size_t len;
};

/* Builds the table; fails when a handler names no method of the services. */
int crisp_routes_build(struct crisp_routes *routes,
                       const ProtobufCServiceDescriptor *const *services, size_t n_services,
                       const struct crisp_handler *handlers, size_t n_handlers,
                       struct crisp_err *err);
const struct crisp_route *crisp_routes_find(const struct crisp_routes *routes, grpc_slice path);
void crisp_routes_free(struct crisp_routes *routes);
