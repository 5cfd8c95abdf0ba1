#define _GNU_SOURCE
#include "config/address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int bad_address(const char *addr, const char *what, struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                        "%s: expected \"host:port\" with an IPv4 address, [IPv6 address] or "
                        "localhost and a port from 0 to 65535, got \"%s\"",
                        what, addr);
}

static bool host_is_valid(const char *host, bool bracketed)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (bracketed)
        return inet_pton(AF_INET6, host, buf) == 1;
    return strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, buf) == 1;
}

static bool parse_port(const char *s, int *port)
{
    if (*s < '0' || *s > '9' || strlen(s) > 5)
        return false;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*end || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

int crisp_address_split(const char *addr, char *host, size_t host_size, int *port, const char *what,
                        struct crisp_err *err)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return bad_address(addr, what, err);
    const char *start = addr, *stop = colon;
    bool bracketed = addr[0] == '[';
    if (bracketed) {
        if (stop[-1] != ']')
            return bad_address(addr, what, err);
        start++;
        stop--;
    }
    size_t len = (size_t)(stop - start);
    if (len == 0 || len >= host_size)
        return bad_address(addr, what, err);
    memcpy(host, start, len);
    host[len] = '\0';
    if (!host_is_valid(host, bracketed) || !parse_port(colon + 1, port))
        return bad_address(addr, what, err);
    return 0;
}
