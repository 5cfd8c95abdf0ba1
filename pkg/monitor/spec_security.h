/* The monitor spec's device and LSM fields ("devices", "host_devices", "sys_writable",
 * "apparmor_profile"; pkg/monitor/spec.h), kept apart from the rest of the spec's JSON. */
#pragma once

#include <jansson.h>

#include "monitor/spec.h"

/* Adds the fields to o; unset ones are left out. */
void crisp_monitor_spec_security_json(const struct crisp_monitor_spec *s, json_t *o);

/* Reads them from o (absent = unset); INVALID_ARGUMENT "monitor spec <path>: "devices[2]":
 * ..." when malformed. What it allocated is freed by crisp_monitor_spec_security_free. */
int crisp_monitor_spec_security_read(json_t *o, struct crisp_monitor_spec *s, const char *path,
                                     struct crisp_err *err);

void crisp_monitor_spec_security_free(struct crisp_monitor_spec *s);
