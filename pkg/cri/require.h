/* Checks of the request fields a CRI method cannot do without. */
#pragma once

#include "util/err.h"

/* 0 if value is set and not empty, else INVALID_ARGUMENT "<method>: <field> is required". */
int cri_require(const char *method, const char *field, const char *value, struct crisp_err *err);
