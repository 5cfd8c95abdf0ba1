#define _GNU_SOURCE
#include "pod/pod_persist.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define CONFIG_MAX (16u << 20)

static const char *const state_names[] = {"creating", "ready", "notready"};

struct crisp_pod *crisp_pod_new(const char *pods_dir, const char *id)
{
    struct crisp_pod *pod = crisp_xcalloc(1, sizeof(*pod));
    snprintf(pod->id, sizeof(pod->id), "%s", id);
    pod->dir = crisp_xasprintf("%s/%s", pods_dir, id);
    pthread_mutex_init(&pod->lock, NULL);
    return pod;
}

void crisp_pod_free(struct crisp_pod *pod)
{
    if (!pod)
        return;
    if (pod->config)
        protobuf_c_message_free_unpacked(&pod->config->base, NULL);
    free(pod->dir);
    free(pod->runtime_handler);
    free(pod->hostname);
    pthread_mutex_destroy(&pod->lock);
    free(pod);
}

int crisp_pod_save_config(const struct crisp_pod *pod, struct crisp_err *err)
{
    size_t len = protobuf_c_message_get_packed_size(&pod->config->base);
    _cleanup_free_ uint8_t *buf = crisp_xmalloc(len ? len : 1);
    protobuf_c_message_pack(&pod->config->base, buf);
    _cleanup_free_ char *path = crisp_xasprintf("%s/config.pb", pod->dir);
    return crisp_write_file_atomic(path, buf, len, 0600, err);
}

int crisp_pod_save_state(const struct crisp_pod *pod, struct crisp_err *err)
{
    _cleanup_json_ json_t *doc =
        json_pack("{s:s, s:I, s:s, s:s}", "state", state_names[pod->state], "created_at",
                  (json_int_t)pod->created_at, "runtime_handler", pod->runtime_handler, "hostname",
                  pod->hostname);
    if (pod->infra_pid > 0)
        json_object_set_new(doc, "infra_pid", json_integer(pod->infra_pid));
    _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
    _cleanup_free_ char *path = crisp_xasprintf("%s/state.json", pod->dir);
    return crisp_write_file_atomic(path, text, strlen(text), 0600, err);
}

static int load_state(struct crisp_pod *pod, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/state.json", pod->dir);
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_load_file(path, 0, &jerr);
    const char *state = json_string_value(json_object_get(doc, "state"));
    const char *handler = json_string_value(json_object_get(doc, "runtime_handler"));
    const char *hostname = json_string_value(json_object_get(doc, "hostname"));
    if (!state || !handler || !hostname)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "%s: unreadable pod state", path);
    pod->state = CRISP_POD_CREATING;
    for (int i = 0; i < 3; i++)
        if (strcmp(state, state_names[i]) == 0)
            pod->state = (enum crisp_pod_state)i;
    pod->created_at = json_integer_value(json_object_get(doc, "created_at"));
    pod->runtime_handler = crisp_xstrdup(handler);
    pod->hostname = crisp_xstrdup(hostname);
    json_int_t infra = json_integer_value(json_object_get(doc, "infra_pid"));
    pod->infra_pid = infra > 0 && infra <= INT32_MAX ? (pid_t)infra : 0;
    return 0;
}

struct crisp_pod *crisp_pod_load(const char *pods_dir, const char *id, struct crisp_err *err)
{
    struct crisp_pod *pod = crisp_pod_new(pods_dir, id);
    _cleanup_free_ char *path = crisp_xasprintf("%s/config.pb", pod->dir);
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    int r = crisp_read_file(path, CONFIG_MAX, &data, &len, err);
    if (r == 0) {
        pod->config = (Runtime__V1__PodSandboxConfig *)protobuf_c_message_unpack(
            &runtime__v1__pod_sandbox_config__descriptor, NULL, len, (const uint8_t *)data);
        if (!pod->config)
            r = crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "%s: not a PodSandboxConfig", path);
    }
    if (r == 0)
        r = load_state(pod, err);
    if (r < 0) {
        crisp_pod_free(pod);
        return NULL;
    }
    return pod;
}
