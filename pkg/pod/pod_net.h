/* The pod lifecycle's network hooks: CNI ADD once the netns is pinned, DEL
 * on a failed run, on Stop and on Remove. hostNetwork pods have none. */
#pragma once

#include "pod/pod.h"

/* ADD for a pod with its own network namespace; *ip gets its primary IP
 * (malloc'd, NULL for a hostNetwork pod). */
int crisp_pod_net_up(struct crisp_pod_store *ps, struct crisp_pod *pod, char **ip,
                     struct crisp_err *err);
/* DEL; never fails the caller: a failure is logged and the attachment stays
 * recorded, so the next Stop, Remove or crispd start tries again. */
void crisp_pod_net_down(struct crisp_pod_store *ps, struct crisp_pod *pod);
