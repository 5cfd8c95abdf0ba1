#define _GNU_SOURCE
#include "config/registries.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static void registry_free(struct crisp_registry_config *r)
{
    free(r->host);
    for (size_t i = 0; i < r->n_mirrors; i++)
        free(r->mirrors[i]);
    free(r->mirrors);
    free(r->ca_file);
    memset(r, 0, sizeof(*r));
}

void crisp_registries_free(struct crisp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_registries; i++)
        registry_free(&cfg->registries[i]);
    free(cfg->registries);
    cfg->registries = NULL;
    cfg->n_registries = 0;
}

const struct crisp_registry_config *crisp_config_registry(const struct crisp_config *cfg,
                                                          const char *host)
{
    for (size_t i = 0; i < cfg->n_registries; i++)
        if (strcmp(cfg->registries[i].host, host) == 0)
            return &cfg->registries[i];
    return NULL;
}

static int bad(struct crisp_err *err, const char *where, const char *host, const char *field,
               const char *expected, const json_t *got)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: registries.%s.%s: expected %s, got %s", where, host, field, expected,
                        crisp_json_type_name(got));
}

static bool is_endpoint_url(const char *s)
{
    const char *rest = strncmp(s, "http://", 7) == 0    ? s + 7
                       : strncmp(s, "https://", 8) == 0 ? s + 8
                                                        : NULL;
    return rest && *rest && *rest != '/';
}

static int parse_mirrors(struct crisp_registry_config *r, const json_t *v, const char *where,
                         struct crisp_err *err)
{
    if (!json_is_array(v))
        return bad(err, where, r->host, "mirrors", "an array of http:// or https:// URLs", v);
    size_t i;
    const json_t *m;
    json_array_foreach(v, i, m)
    {
        const char *url = json_string_value(m);
        if (!url || !is_endpoint_url(url))
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "%s: registries.%s.mirrors[%zu]: expected an http:// or https:// "
                                "URL such as \"http://127.0.0.1:5000\"",
                                where, r->host, i);
    }
    r->mirrors = crisp_xcalloc(json_array_size(v), sizeof(char *));
    json_array_foreach(v, i, m) r->mirrors[r->n_mirrors++] = crisp_xstrdup(json_string_value(m));
    return 0;
}

static int parse_field(struct crisp_registry_config *r, const char *key, const json_t *v,
                       const char *where, struct crisp_err *err)
{
    if (strcmp(key, "mirrors") == 0)
        return parse_mirrors(r, v, where, err);
    if (strcmp(key, "upstream") == 0 || strcmp(key, "insecure") == 0) {
        if (!json_is_boolean(v))
            return bad(err, where, r->host, key, "true or false", v);
        *(key[0] == 'u' ? &r->upstream : &r->insecure) = json_is_true(v);
        return 0;
    }
    if (strcmp(key, "ca_file") == 0) {
        const char *path = json_string_value(v);
        if (!path || path[0] != '/')
            return bad(err, where, r->host, key, "an absolute path string", v);
        r->ca_file = crisp_xstrdup(path);
        return 0;
    }
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: registries.%s.%s: unknown key (expected one of: mirrors, upstream, "
                        "insecure, ca_file)",
                        where, r->host, key);
}

static int parse_registry(struct crisp_registry_config *r, const char *host, const json_t *v,
                          const char *where, struct crisp_err *err)
{
    memset(r, 0, sizeof(*r));
    r->host = crisp_xstrdup(host);
    r->upstream = true;
    if (!*host || strchr(host, '/'))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: registries: \"%s\": expected a registry host such as "
                            "\"docker.io\" or \"localhost:5000\"",
                            where, host);
    if (!json_is_object(v))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: registries.%s: expected an object, got %s", where, host,
                            crisp_json_type_name(v));
    const char *key;
    const json_t *field;
    json_object_foreach((json_t *)v, key, field)
    {
        int rc = parse_field(r, key, field, where, err);
        if (rc < 0)
            return rc;
    }
    if (!r->upstream && r->n_mirrors == 0)
        return crisp_errorf(
            err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
            "%s: registries.%s: upstream is false, so expected at least one mirror: "
            "nothing else could serve this registry",
            where, host);
    return 0;
}

/* Replaces (or adds) the entry for r->host, taking ownership of r's contents. */
static void put_registry(struct crisp_config *cfg, struct crisp_registry_config *r)
{
    for (size_t i = 0; i < cfg->n_registries; i++) {
        if (strcmp(cfg->registries[i].host, r->host) == 0) {
            registry_free(&cfg->registries[i]);
            cfg->registries[i] = *r;
            return;
        }
    }
    cfg->registries =
        crisp_xrealloc(cfg->registries, (cfg->n_registries + 1) * sizeof(*cfg->registries));
    cfg->registries[cfg->n_registries++] = *r;
}

int crisp_registries_apply(struct crisp_config *cfg, const json_t *value, const char *where,
                           struct crisp_err *err)
{
    if (!json_is_object(value))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "%s: registries: expected an object of registry hosts, got %s", where,
                            crisp_json_type_name(value));
    const char *host;
    const json_t *v;
    json_object_foreach((json_t *)value, host, v)
    {
        struct crisp_registry_config r;
        int rc = parse_registry(&r, host, v, where, err);
        if (rc < 0) {
            registry_free(&r);
            return rc;
        }
        put_registry(cfg, &r);
    }
    return 0;
}

json_t *crisp_registries_to_json(const struct crisp_config *cfg)
{
    json_t *out = json_object();
    for (size_t i = 0; i < cfg->n_registries; i++) {
        const struct crisp_registry_config *r = &cfg->registries[i];
        json_t *mirrors = json_array();
        for (size_t m = 0; m < r->n_mirrors; m++)
            json_array_append_new(mirrors, json_string(r->mirrors[m]));
        json_t *entry = json_pack("{s:o, s:b, s:b}", "mirrors", mirrors, "upstream", r->upstream,
                                  "insecure", r->insecure);
        if (r->ca_file)
            json_object_set_new(entry, "ca_file", json_string(r->ca_file));
        json_object_set_new(out, r->host, entry);
    }
    return out;
}
