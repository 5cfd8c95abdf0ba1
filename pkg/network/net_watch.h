/* The watcher of the CNI config dir: a thread blocked on inotify that
 * re-reads the dir (crisp_network_refresh) whenever a file in it changes.
 * A dir that does not exist yet (or is replaced) is looked for again every
 * second. */
#pragma once

#include "network/network.h"

int crisp_network_watch_start(struct crisp_network *net, struct crisp_err *err);
void crisp_network_watch_stop(struct crisp_network *net);
