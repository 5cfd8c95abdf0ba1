#define _GNU_SOURCE
#include "network/net_record.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define RECORD_MAX (4u << 20)
#define SUFFIX     ".json"

int crisp_net_record_save(const char *dir, const char *pod_id, const json_t *record,
                          struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s" SUFFIX, dir, pod_id);
    _cleanup_free_ char *text = json_dumps(record, JSON_COMPACT);
    return crisp_write_file_atomic(path, text, strlen(text), 0600, err);
}

json_t *crisp_net_record_load(const char *dir, const char *pod_id)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s" SUFFIX, dir, pod_id);
    _cleanup_free_ char *text = NULL;
    size_t len;
    struct crisp_err err;
    if (crisp_read_file(path, RECORD_MAX, &text, &len, &err) < 0) {
        if (access(path, F_OK) == 0)
            log_warn("network", "%s", err.msg);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!json_is_object(doc)) {
        log_warn("network", "%s: unreadable attachment record: %s", path, jerr.text);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int crisp_net_record_remove(const char *dir, const char *pod_id, struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/%s" SUFFIX, dir, pod_id);
    if (unlink(path) < 0 && errno != ENOENT)
        return crisp_syserrf(err, errno, "remove %s", path);
    return 0;
}

char **crisp_net_record_list(const char *dir, size_t *n)
{
    char **out = crisp_xcalloc(1, sizeof(*out));
    *n = 0;
    _cleanup_closedir_ DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= strlen(SUFFIX) ||
            strcmp(e->d_name + len - strlen(SUFFIX), SUFFIX) != 0)
            continue;
        out = crisp_xrealloc(out, (*n + 2) * sizeof(*out));
        out[*n] = crisp_xstrdup(e->d_name);
        out[*n][len - strlen(SUFFIX)] = '\0';
        out[++*n] = NULL;
    }
    return out;
}
