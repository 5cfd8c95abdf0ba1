/* On-disk form of a pod: config.pb and state.json in its directory. */
#pragma once

#include "pod/pod.h"

int crisp_pod_save_config(const struct crisp_pod *pod, struct crisp_err *err);
/* Caller holds pod->lock (or owns the pod alone). */
int crisp_pod_save_state(const struct crisp_pod *pod, struct crisp_err *err);
/* Loads <dir>/<id>; NULL with err set when it is unreadable. */
struct crisp_pod *crisp_pod_load(const char *pods_dir, const char *id, struct crisp_err *err);

struct crisp_pod *crisp_pod_new(const char *pods_dir, const char *id);
void crisp_pod_free(struct crisp_pod *pod);
