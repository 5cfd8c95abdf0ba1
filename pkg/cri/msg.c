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
