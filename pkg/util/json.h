/* Small jansson helpers shared by the stores. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* The string members of a JSON array as a NULL-terminated malloc'd array of
 * malloc'd strings (non-strings skipped); an absent array gives an empty one. */
char **crisp_json_strings(const json_t *array, size_t *n);
