#include "stream/token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/deadline.h"
#include "util/ids.h"
#include "util/mem.h"

void crisp_token_store_init(struct crisp_token_store *ts, int64_t ttl_seconds)
{
    pthread_mutex_init(&ts->lock, NULL);
    ts->ttl_ms = ttl_seconds * 1000;
    ts->tokens = crisp_xcalloc(CRISP_STREAM_MAX_TOKENS, sizeof(*ts->tokens));
}

static void drop(struct crisp_token *t)
{
    crisp_stream_request_free(t->req);
    memset(t, 0, sizeof(*t));
}

void crisp_token_store_free(struct crisp_token_store *ts)
{
    for (size_t i = 0; i < CRISP_STREAM_MAX_TOKENS; i++)
        drop(&ts->tokens[i]);
    free(ts->tokens);
    pthread_mutex_destroy(&ts->lock);
}

/* A free slot, reclaiming expired tokens on the way; NULL when all are live. */
static struct crisp_token *free_slot(struct crisp_token_store *ts, int64_t now)
{
    struct crisp_token *found = NULL;
    for (size_t i = 0; i < CRISP_STREAM_MAX_TOKENS; i++) {
        struct crisp_token *t = &ts->tokens[i];
        if (t->req && t->expires_ms <= now)
            drop(t);
        if (!t->req && !found)
            found = t;
    }
    return found;
}

int crisp_token_issue(struct crisp_token_store *ts, const struct crisp_stream_request *req,
                      char token[CRISP_STREAM_TOKEN_LEN + 1], struct crisp_err *err)
{
    char id[CRISP_RANDOM_ID_LEN + 1];
    crisp_random_id(id);
    memcpy(token, id, CRISP_STREAM_TOKEN_LEN);
    token[CRISP_STREAM_TOKEN_LEN] = '\0';
    int64_t now = crisp_monotonic_ms();
    pthread_mutex_lock(&ts->lock);
    struct crisp_token *t = free_slot(ts, now);
    if (t) {
        memcpy(t->token, token, sizeof(t->token));
        t->expires_ms = now + ts->ttl_ms;
        t->req = crisp_stream_request_copy(req);
    }
    pthread_mutex_unlock(&ts->lock);
    if (!t)
        return crisp_errorf(err, GRPC_STATUS_RESOURCE_EXHAUSTED, EBUSY,
                            "%d streaming URLs are outstanding; use or let some expire first",
                            CRISP_STREAM_MAX_TOKENS);
    return 0;
}

struct crisp_stream_request *crisp_token_redeem(struct crisp_token_store *ts, const char *token)
{
    if (strlen(token) != CRISP_STREAM_TOKEN_LEN)
        return NULL;
    struct crisp_stream_request *req = NULL;
    int64_t now = crisp_monotonic_ms();
    pthread_mutex_lock(&ts->lock);
    for (size_t i = 0; i < CRISP_STREAM_MAX_TOKENS && !req; i++) {
        struct crisp_token *t = &ts->tokens[i];
        if (!t->req || strcmp(t->token, token) != 0)
            continue;
        if (t->expires_ms > now) {
            req = t->req;
            t->req = NULL;
        }
        drop(t);
    }
    pthread_mutex_unlock(&ts->lock);
    return req;
}
