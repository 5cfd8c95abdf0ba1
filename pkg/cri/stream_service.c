/* Exec, Attach, PortForward: validate the request, then hand out a one-time URL on the
 * streaming server (pkg/stream), where the client's upgraded connection does the work. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "container/attach.h"
#include "cri/handlers.h"
#include "cri/msg.h"
#include "cri/runtime.h"
#include "stream/server.h"

static int require_id(const char *method, const char *field, const char *value,
                      struct crisp_err *err)
{
    if (value && *value)
        return 0;
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "%s: %s is required", method,
                        field);
}

static int check_stdio(const char *method, bool in, bool out, bool errs, bool tty,
                       struct crisp_err *err)
{
    if (!in && !out && !errs)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: one of stdin, stdout or stderr must be true", method);
    if (tty && errs)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: tty and stderr cannot both be true: a terminal has one output "
                            "stream",
                            method);
    return 0;
}

/* The running container's full id (the request may name a unique prefix). */
static int running_container(struct crisp_runtime *rt, const char *method, const char *id,
                             char full[CRISP_CTR_ID_LEN + 1], struct crisp_err *err)
{
    struct crisp_ctr *c;
    int r = crisp_ctr_get_running(&rt->ctrs, id, method, &c, err);
    if (r < 0)
        return r;
    memcpy(full, c->id, CRISP_CTR_ID_LEN + 1);
    crisp_ctr_unlock_put(&rt->ctrs, c);
    return 0;
}

static int issue_url(struct crisp_call *call, const struct crisp_stream_request *req,
                     char **url_out, struct crisp_err *err)
{
    struct crisp_runtime *rt = crisp_call_app(call);
    if (!rt->stream)
        return crisp_errorf(err, GRPC_STATUS_UNAVAILABLE, ENOTCONN,
                            "the streaming server is not running");
    char *url;
    int r = crisp_stream_server_url(rt->stream, req, &url, err);
    if (r < 0)
        return r;
    *url_out = crisp_arena_strdup(crisp_call_arena(call), url);
    free(url);
    return 0;
}

CRI_UNARY(cri_exec)
{
    const Runtime__V1__ExecRequest *in = crisp_req(Runtime__V1__ExecRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    char id[CRISP_CTR_ID_LEN + 1];
    int r = require_id("Exec", "container_id", in->container_id, err);
    if (r == 0 && (in->n_cmd == 0 || !*in->cmd[0]))
        r = crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                         "Exec: cmd is required: the command and its arguments");
    if (r == 0)
        r = check_stdio("Exec", in->stdin, in->stdout, in->stderr, in->tty, err);
    if (r == 0)
        r = running_container(rt, "Exec", in->container_id, id, err);
    const struct crisp_stream_request sr = {.kind = CRISP_STREAM_EXEC,
                                            .id = id,
                                            .cmd = in->cmd,
                                            .n_cmd = in->n_cmd,
                                            .tty = in->tty,
                                            .want_stdin = in->stdin,
                                            .want_stdout = in->stdout,
                                            .want_stderr = in->stderr};
    Runtime__V1__ExecResponse *out = crisp_msg_new(
        crisp_call_arena(call), Runtime__V1__ExecResponse, RUNTIME__V1__EXEC_RESPONSE__INIT);
    if (r == 0)
        r = issue_url(call, &sr, &out->url, err);
    if (r < 0)
        return r;
    *resp = &out->base;
    return 0;
}

CRI_UNARY(cri_attach)
{
    const Runtime__V1__AttachRequest *in = crisp_req(Runtime__V1__AttachRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    char id[CRISP_CTR_ID_LEN + 1];
    int r = require_id("Attach", "container_id", in->container_id, err);
    if (r == 0)
        r = check_stdio("Attach", in->stdin, in->stdout, in->stderr, in->tty, err);
    if (r == 0)
        r = crisp_ctr_attach_check(&rt->ctr_env, in->container_id, in->stdin, in->tty, id, err);
    const struct crisp_stream_request sr = {.kind = CRISP_STREAM_ATTACH,
                                            .id = id,
                                            .tty = in->tty,
                                            .want_stdin = in->stdin,
                                            .want_stdout = in->stdout,
                                            .want_stderr = in->stderr};
    Runtime__V1__AttachResponse *out = crisp_msg_new(
        crisp_call_arena(call), Runtime__V1__AttachResponse, RUNTIME__V1__ATTACH_RESPONSE__INIT);
    if (r == 0)
        r = issue_url(call, &sr, &out->url, err);
    if (r < 0)
        return r;
    *resp = &out->base;
    return 0;
}

static int check_ports(const int32_t *ports, size_t n, struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] < 1 || ports[i] > 65535)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "PortForward: port %d is out of range, expected 1 to 65535",
                                ports[i]);
    return 0;
}

static int ready_pod(struct crisp_runtime *rt, const char *id, char full[CRISP_ID_LEN + 1],
                     struct crisp_err *err)
{
    struct crisp_pod *pod;
    int r = crisp_pod_store_get(&rt->pods, id, &pod, err);
    if (r < 0)
        return r;
    memcpy(full, pod->id, CRISP_ID_LEN + 1);
    if (crisp_pod_state(pod) != CRISP_POD_READY)
        r = crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EINVAL,
                         "PortForward: pod sandbox %s is not ready", pod->id);
    crisp_pod_put(&rt->pods, pod);
    return r;
}

CRI_UNARY(cri_port_forward)
{
    const Runtime__V1__PortForwardRequest *in = crisp_req(Runtime__V1__PortForwardRequest, req);
    struct crisp_runtime *rt = crisp_call_app(call);
    char id[CRISP_ID_LEN + 1];
    int r = require_id("PortForward", "pod_sandbox_id", in->pod_sandbox_id, err);
    if (r == 0)
        r = check_ports(in->port, in->n_port, err);
    if (r == 0)
        r = ready_pod(rt, in->pod_sandbox_id, id, err);
    const struct crisp_stream_request sr = {
        .kind = CRISP_STREAM_PORTFORWARD, .id = id, .ports = in->port, .n_ports = in->n_port};
    Runtime__V1__PortForwardResponse *out =
        crisp_msg_new(crisp_call_arena(call), Runtime__V1__PortForwardResponse,
                      RUNTIME__V1__PORT_FORWARD_RESPONSE__INIT);
    if (r == 0)
        r = issue_url(call, &sr, &out->url, err);
    if (r < 0)
        return r;
    *resp = &out->base;
    return 0;
}
