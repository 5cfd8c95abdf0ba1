#include "util/json.h"

#include "util/mem.h"

char **crisp_json_strings(const json_t *array, size_t *n)
{
    *n = 0;
    char **out = crisp_xcalloc(json_array_size(array) + 1, sizeof(char *));
    size_t i;
    const json_t *s;
    json_array_foreach(array, i, s)
    {
        if (json_is_string(s))
            out[(*n)++] = crisp_xstrdup(json_string_value(s));
    }
    return out;
}
