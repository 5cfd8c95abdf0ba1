#define _GNU_SOURCE
#include "attach.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "monitor/attach.h"

static const char *yes_no(bool b)
{
    return b ? "true" : "false";
}

/* The request against the container's config: what the kubelet asked must be possible. */
static int check_request(const struct crisp_ctr *c, bool want_stdin, bool tty,
                         struct crisp_err *err)
{
    bool has_stdin = c->config->stdin, has_tty = c->config->tty;
    if (want_stdin && !has_stdin)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                            "Attach: container %s was created without stdin "
                            "(ContainerConfig.stdin false): stdin cannot be attached",
                            c->id);
    if (tty != has_tty)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "Attach: tty %s does not match container %s, created with tty %s",
                            yes_no(tty), c->id, yes_no(has_tty));
    return 0;
}

static int connect_running(struct crisp_ctr *c, bool want_stdin, int *fd, struct crisp_err *err)
{
    pthread_mutex_lock(&c->lock);
    crisp_ctr_refresh_locked(c);
    bool running = c->state == CRISP_CTR_RUNNING;
    pthread_mutex_unlock(&c->lock);
    if (!running)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                            "Attach: container %s is not running", c->id);
    int s = crisp_monitor_attach_connect(c->dir, err);
    if (s < 0)
        return s;
    if (want_stdin) {
        int r = crisp_attach_send(s, CRISP_ATTACH_STDIN, NULL, 0, err);
        if (r < 0) {
            close(s);
            return r;
        }
    }
    *fd = s;
    return 0;
}

int crisp_ctr_attach(const struct crisp_ctr_env *env, const char *id, bool want_stdin, bool tty,
                     int *fd, struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(env->ctrs, id, &c, err);
    if (r < 0)
        return r;
    r = check_request(c, want_stdin, tty, err);
    if (r == 0)
        r = connect_running(c, want_stdin, fd, err);
    crisp_ctr_put(env->ctrs, c);
    return r;
}

int crisp_ctr_attach_check(const struct crisp_ctr_env *env, const char *id, bool want_stdin,
                           bool tty, char full_id[CRISP_CTR_ID_LEN + 1], struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_store_get(env->ctrs, id, &c, err);
    if (r < 0)
        return r;
    r = check_request(c, want_stdin, tty, err);
    if (r == 0) {
        pthread_mutex_lock(&c->lock);
        crisp_ctr_refresh_locked(c);
        if (c->state != CRISP_CTR_RUNNING)
            r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EPERM,
                             "Attach: container %s is not running", c->id);
        pthread_mutex_unlock(&c->lock);
    }
    memcpy(full_id, c->id, CRISP_CTR_ID_LEN + 1);
    crisp_ctr_put(env->ctrs, c);
    return r;
}
