#include "cri/msg.h"

#include <string.h>

void *crisp_msg_copy_map(struct crisp_arena *a, const ProtobufCMessageDescriptor *desc,
                         void *const *src, size_t n)
{
    struct crisp_map_entry **out = crisp_arena_array(a, struct crisp_map_entry *, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const struct crisp_map_entry *e = src[i];
        struct crisp_map_entry *copy = crisp_arena_new(a, struct crisp_map_entry);
        protobuf_c_message_init(desc, copy);
        copy->key = crisp_arena_strdup(a, e->key ? e->key : "");
        copy->value = crisp_arena_strdup(a, e->value ? e->value : "");
        out[i] = copy;
    }
    return out;
}

const char *crisp_map_get(void *const *entries, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const struct crisp_map_entry *e = entries[i];
        if (e->key && strcmp(e->key, key) == 0)
            return e->value;
    }
    return NULL;
}

bool crisp_map_matches(void *const *labels, size_t n_labels, void *const *selector,
                       size_t n_selector)
{
    for (size_t i = 0; i < n_selector; i++) {
        const struct crisp_map_entry *want = selector[i];
        const char *v = crisp_map_get(labels, n_labels, want->key ? want->key : "");
        if (!v || strcmp(v, want->value ? want->value : "") != 0)
            return false;
    }
    return true;
}

char **crisp_msg_copy_strings(struct crisp_arena *a, char *const *src, size_t n)
{
    char **out = crisp_arena_array(a, char *, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        out[i] = crisp_arena_strdup(a, src[i]);
    return out;
}

void *crisp_msg_clone(struct crisp_arena *a, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = crisp_arena_alloc(a, len ? len : 1);
    protobuf_c_message_pack(m, buf);
    return protobuf_c_message_unpack(m->descriptor, &a->pb_allocator, len, buf);
}

int crisp_send_chunked(struct crisp_call *call, const ProtobufCMessageDescriptor *desc, void *items,
                       size_t n, struct crisp_err *err)
{
    const ProtobufCFieldDescriptor *field = &desc->fields[0];
    void **all = items;
    char *msg = crisp_arena_alloc(crisp_call_arena(call), desc->sizeof_message);
    protobuf_c_message_init(desc, msg);
    for (size_t start = 0; start < n; start += CRISP_STREAM_CHUNK) {
        *(size_t *)(msg + field->quantifier_offset) =
            n - start < CRISP_STREAM_CHUNK ? n - start : CRISP_STREAM_CHUNK;
        *(void ***)(msg + field->offset) = all + start;
        int r = crisp_call_send(call, (const ProtobufCMessage *)msg, err);
        if (r < 0)
            return r;
    }
    return 0;
}
