/* Notices containers that exit on their own: an inotify watch on every
 * container state directory wakes when the monitor renames exit.json into
 * place; the container's state is then refreshed, which records the exit and
 * emits CONTAINER_STOPPED. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "container/container.h"
#include "util/err.h"

struct crisp_exit_watch {
    struct crisp_ctr_store *ctrs;
    int inotify_fd;
    int stop_pipe[2];
    int top_wd; /* the containers directory itself */
    struct exit_watch_dir *dirs;
    size_t n_dirs;
    pthread_t thread;
    bool started;
};

int crisp_exit_watch_start(struct crisp_exit_watch *w, struct crisp_ctr_store *ctrs,
                           struct crisp_err *err);
void crisp_exit_watch_stop(struct crisp_exit_watch *w);
