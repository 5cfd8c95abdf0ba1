/* Answers a registry's 401 challenge (WWW-Authenticate): Basic with the pull
 * credentials, or Bearer with a token from the realm (anonymous, basic
 * credentials, or an OAuth2 refresh token). Sets reg->authorization. */
#pragma once

#include "image/registry.h"

int crisp_registry_answer_challenge(struct crisp_registry *reg,
                                    const struct crisp_registry_endpoint *ep,
                                    const char *www_authenticate, struct crisp_err *err);

/* Parses `Bearer realm="...",service="...",scope="..."`: the value of key
 * (malloc'd) or NULL. */
char *crisp_challenge_param(const char *header, const char *key);
