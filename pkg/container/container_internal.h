/* Shared by the container store files. */
#pragma once

#include "container/container.h"

struct crisp_ctr *crisp_ctr_new(const struct crisp_ctr_store *cs, const char *id);
void crisp_ctr_free(struct crisp_ctr *c);
struct crisp_ctr *crisp_ctr_load(const struct crisp_ctr_store *cs, const char *id,
                                 struct crisp_err *err);
