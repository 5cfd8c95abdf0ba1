/* Attachment records: <records dir>/<pod id>.json, written atomically. */
#pragma once

#include <jansson.h>

#include "util/err.h"

int crisp_net_record_save(const char *dir, const char *pod_id, const json_t *record,
                          struct crisp_err *err);
/* NULL when there is none (or it is unreadable, which is logged). */
json_t *crisp_net_record_load(const char *dir, const char *pod_id);
int crisp_net_record_remove(const char *dir, const char *pod_id, struct crisp_err *err);
/* Pod ids with a record: NULL-terminated, malloc'd. */
char **crisp_net_record_list(const char *dir, size_t *n);
