/* One-time tokens of the streaming URLs: 128 random bits as 32 hex characters, single use,
 * valid for a configured time, at most CRISP_STREAM_MAX_TOKENS outstanding. Thread-safe. */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "stream/request.h"
#include "util/err.h"

#define CRISP_STREAM_TOKEN_LEN  32
#define CRISP_STREAM_MAX_TOKENS 1024

struct crisp_token {
    char token[CRISP_STREAM_TOKEN_LEN + 1];
    int64_t expires_ms; /* CLOCK_MONOTONIC */
    struct crisp_stream_request *req;
};

struct crisp_token_store {
    pthread_mutex_t lock;
    int64_t ttl_ms;
    struct crisp_token *tokens; /* CRISP_STREAM_MAX_TOKENS slots; req NULL = free */
};

void crisp_token_store_init(struct crisp_token_store *ts, int64_t ttl_seconds);
void crisp_token_store_free(struct crisp_token_store *ts);
/* Stores a copy of req under a new token. RESOURCE_EXHAUSTED when full of live tokens. */
int crisp_token_issue(struct crisp_token_store *ts, const struct crisp_stream_request *req,
                      char token[CRISP_STREAM_TOKEN_LEN + 1], struct crisp_err *err);
/* Removes and returns the request of a live token; NULL when unknown, used or expired. */
struct crisp_stream_request *crisp_token_redeem(struct crisp_token_store *ts, const char *token);
