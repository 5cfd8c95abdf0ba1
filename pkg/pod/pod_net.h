/* The pod lifecycle's network hooks: CNI ADD (its first plugin started before
 * the netns is made, run once it is pinned), DEL on a failed run, on Stop and
 * on Remove. hostNetwork pods have none. */
#pragma once

#include "pod/pod.h"

struct crisp_network_add;

/* Begins the ADD of a pod with its own network namespace (see
 * crisp_network_attach_begin); *add stays NULL when there is nothing to add
 * (hostNetwork, no network configured at all). */
int crisp_pod_net_begin(struct crisp_pod_store *ps, struct crisp_pod *pod,
                        struct crisp_network_add **add, struct crisp_err *err);
/* Finishes it into the pinned netns; *ip gets the primary IP (malloc'd, NULL
 * without one). Ends add. */
int crisp_pod_net_finish(struct crisp_pod_store *ps, struct crisp_network_add *add, char **ip,
                         struct crisp_err *err);
/* Instead of finish, when the pod failed before its netns was ready. */
void crisp_pod_net_cancel(struct crisp_pod_store *ps, struct crisp_network_add *add);
/* DEL; never fails the caller: a failure is logged and the attachment stays
 * recorded, so the next Stop, Remove or crispd start tries again. */
void crisp_pod_net_down(struct crisp_pod_store *ps, struct crisp_pod *pod);
