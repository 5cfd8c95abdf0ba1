#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container/container_internal.h"
#include "events/events.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define CONFIG_MAX (16u << 20)

static const char *const state_names[] = {"creating", "created", "running", "exited"};

int crisp_ctr_save_config(struct crisp_ctr *c, struct crisp_err *err)
{
    size_t len = protobuf_c_message_get_packed_size(&c->config->base);
    _cleanup_free_ uint8_t *buf = crisp_xmalloc(len ? len : 1);
    protobuf_c_message_pack(&c->config->base, buf);
    _cleanup_free_ char *path = crisp_xasprintf("%s/config.pb", c->dir);
    return crisp_write_file_atomic(path, buf, len, 0600, err);
}

int crisp_ctr_save(struct crisp_ctr *c, struct crisp_err *err)
{
    _cleanup_json_ json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:i, s:I, s:I, s:i, s:b, s:s}", "pod_id",
        c->pod_id, "image_id", c->image_id, "image_ref", c->image_ref, "log_path", c->log_path,
        "cgroup", c->cgroup, "state", state_names[c->state], "stop_signal", c->stop_signal,
        "created_at", (json_int_t)c->created_at, "pid", (int)c->pid, "started_at",
        (json_int_t)c->started_at, "finished_at", (json_int_t)c->finished_at, "exit_code",
        (int)c->exit_code, "oom_killed", c->oom_killed, "message", c->message ? c->message : "");
    json_t *groups = json_array();
    for (size_t i = 0; i < c->n_groups; i++)
        json_array_append_new(groups, json_integer(c->groups[i]));
    json_object_set_new(doc, "uid", json_integer(c->uid));
    json_object_set_new(doc, "gid", json_integer(c->gid));
    json_object_set_new(doc, "groups", groups);
    _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
    _cleanup_free_ char *path = crisp_xasprintf("%s/state.json", c->dir);
    return crisp_write_file_atomic(path, text, strlen(text), 0600, err);
}

static char *dup_field(const json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return crisp_xstrdup(s ? s : "");
}

static int load_state(struct crisp_ctr *c, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/state.json", c->dir);
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_load_file(path, 0, &jerr);
    const char *pod = json_string_value(json_object_get(doc, "pod_id"));
    const char *state = json_string_value(json_object_get(doc, "state"));
    if (!pod || !state || strlen(pod) != CRISP_CTR_ID_LEN)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "%s: unreadable container state", path);
    memcpy(c->pod_id, pod, CRISP_CTR_ID_LEN + 1);
    c->state = CRISP_CTR_CREATING;
    for (int i = 0; i < 4; i++)
        if (strcmp(state, state_names[i]) == 0)
            c->state = (enum crisp_ctr_state)i;
    c->image_id = dup_field(doc, "image_id");
    c->image_ref = dup_field(doc, "image_ref");
    c->log_path = dup_field(doc, "log_path");
    c->cgroup = dup_field(doc, "cgroup");
    c->message = dup_field(doc, "message");
    c->stop_signal = (int)json_integer_value(json_object_get(doc, "stop_signal"));
    c->created_at = json_integer_value(json_object_get(doc, "created_at"));
    c->pid = (pid_t)json_integer_value(json_object_get(doc, "pid"));
    c->started_at = json_integer_value(json_object_get(doc, "started_at"));
    c->finished_at = json_integer_value(json_object_get(doc, "finished_at"));
    c->exit_code = (int32_t)json_integer_value(json_object_get(doc, "exit_code"));
    c->oom_killed = json_is_true(json_object_get(doc, "oom_killed"));
    c->uid = (uid_t)json_integer_value(json_object_get(doc, "uid"));
    c->gid = (gid_t)json_integer_value(json_object_get(doc, "gid"));
    const json_t *groups = json_object_get(doc, "groups");
    c->groups = crisp_xcalloc(json_array_size(groups) + 1, sizeof(gid_t));
    size_t i;
    const json_t *g;
    json_array_foreach(groups, i, g) c->groups[c->n_groups++] = (gid_t)json_integer_value(g);
    return 0;
}

struct crisp_ctr *crisp_ctr_new(const struct crisp_ctr_store *cs, const char *id)
{
    struct crisp_ctr *c = crisp_xcalloc(1, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->dir = crisp_xasprintf("%s/%s", cs->dir, id);
    c->rw_dir = crisp_xasprintf("%s/%s", cs->rw_dir, id);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void crisp_ctr_free(struct crisp_ctr *c)
{
    if (!c)
        return;
    if (c->config)
        protobuf_c_message_free_unpacked(&c->config->base, NULL);
    free(c->dir);
    free(c->rw_dir);
    free(c->image_id);
    free(c->image_ref);
    free(c->log_path);
    free(c->cgroup);
    free(c->message);
    free(c->groups);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

struct crisp_ctr *crisp_ctr_load(const struct crisp_ctr_store *cs, const char *id,
                                 struct crisp_err *err)
{
    struct crisp_ctr *c = crisp_ctr_new(cs, id);
    _cleanup_free_ char *path = crisp_xasprintf("%s/config.pb", c->dir);
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    int r = crisp_read_file(path, CONFIG_MAX, &data, &len, err);
    if (r == 0) {
        c->config = (Runtime__V1__ContainerConfig *)protobuf_c_message_unpack(
            &runtime__v1__container_config__descriptor, NULL, len, (const uint8_t *)data);
        if (!c->config)
            r = crisp_errorf(err, GRPC_STATUS_INTERNAL, EIO, "%s: not a ContainerConfig", path);
    }
    if (r == 0)
        r = load_state(c, err);
    if (r < 0) {
        crisp_ctr_free(c);
        return NULL;
    }
    return c;
}

void crisp_ctr_refresh_locked(struct crisp_ctr *c)
{
    if (c->state != CRISP_CTR_RUNNING && c->state != CRISP_CTR_CREATED)
        return;
    _cleanup_free_ char *path = crisp_xasprintf("%s/exit.json", c->dir);
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        return; /* still running (or never started) */
    c->state = CRISP_CTR_EXITED;
    crisp_event_emit(CRISP_EVENT_STOPPED, c->id, c->pod_id);
    c->exit_code = (int32_t)json_integer_value(json_object_get(doc, "exit_code"));
    c->finished_at = json_integer_value(json_object_get(doc, "finished_at"));
    c->oom_killed = json_is_true(json_object_get(doc, "oom_killed"));
    int64_t started = json_integer_value(json_object_get(doc, "started_at"));
    if (!c->started_at && started)
        c->started_at = started;
    struct crisp_err err;
    if (crisp_ctr_save(c, &err) < 0)
        log_warn("container", "%s: %s", c->id, err.msg);
}
