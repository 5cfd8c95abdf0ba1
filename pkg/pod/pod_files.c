#define _GNU_SOURCE
#include "pod/pod_files.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#define HOST_FILE_MAX (1 << 20)

static bool valid_hostname(const char *h)
{
    size_t len = strlen(h), label = 0;
    if (len == 0 || len > 253)
        return false;
    for (const char *p = h; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok = isalnum((unsigned char)*p) || (*p == '-' && label > 0);
        if (!ok || ++label > 63)
            return false;
    }
    return label > 0 && h[len - 1] != '-';
}

static bool printable_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return false;
    return true;
}

static int check_words(char **v, size_t n, const char *field, struct crisp_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!printable_word(v[i]))
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "config.dns_config.%s[%zu]: \"%s\": expected a single word "
                                "without spaces or control characters",
                                field, i, v[i]);
    return 0;
}

int crisp_pod_files_validate(const Runtime__V1__PodSandboxConfig *config, struct crisp_err *err)
{
    if (config->hostname && *config->hostname && !valid_hostname(config->hostname))
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "config.hostname: \"%s\" is not a valid host name (RFC 1123: "
                            "letters, digits and '-', labels of at most 63 characters)",
                            config->hostname);
    const Runtime__V1__DNSConfig *dns = config->dns_config;
    if (!dns)
        return 0;
    unsigned char addr[16];
    for (size_t i = 0; i < dns->n_servers; i++)
        if (inet_pton(AF_INET, dns->servers[i], addr) != 1 &&
            inet_pton(AF_INET6, dns->servers[i], addr) != 1)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "config.dns_config.servers[%zu]: \"%s\" is not an IP address", i,
                                dns->servers[i]);
    int r = check_words(dns->searches, dns->n_searches, "searches", err);
    return r < 0 ? r : check_words(dns->options, dns->n_options, "options", err);
}

static void append_line(char **buf, size_t *len, const char *prefix, char **words, size_t n)
{
    if (n == 0)
        return;
    size_t need = strlen(prefix) + 2;
    for (size_t i = 0; i < n; i++)
        need += strlen(words[i]) + 1;
    *buf = crisp_xrealloc(*buf, *len + need + 1);
    *len += (size_t)sprintf(*buf + *len, "%s", prefix);
    for (size_t i = 0; i < n; i++)
        *len += (size_t)sprintf(*buf + *len, " %s", words[i]);
    *len += (size_t)sprintf(*buf + *len, "\n");
}

static int write_resolv_conf(const char *dir, const Runtime__V1__DNSConfig *dns,
                             struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/resolv.conf", dir);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (!dns) /* the host's, as the kubelet expects when it sends none */
        return crisp_read_file("/etc/resolv.conf", HOST_FILE_MAX, &text, &len, err) < 0
                   ? crisp_write_file_atomic(path, "", 0, 0644, err)
                   : crisp_write_file_atomic(path, text, len, 0644, err);
    text = crisp_xstrdup("");
    for (size_t i = 0; i < dns->n_servers; i++)
        append_line(&text, &len, "nameserver", &dns->servers[i], 1);
    append_line(&text, &len, "search", dns->searches, dns->n_searches);
    append_line(&text, &len, "options", dns->options, dns->n_options);
    return crisp_write_file_atomic(path, text, len, 0644, err);
}

static int write_hosts(const char *dir, const char *hostname, bool host_network, const char *pod_ip,
                       struct crisp_err *err)
{
    _cleanup_free_ char *path = crisp_xasprintf("%s/hosts", dir);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (host_network && crisp_read_file("/etc/hosts", HOST_FILE_MAX, &text, &len, err) == 0)
        return crisp_write_file_atomic(path, text, len, 0644, err);
    text = crisp_xasprintf("127.0.0.1\tlocalhost\n"
                           "::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "fe00::0\tip6-localnet\n"
                           "fe00::0\tip6-mcastprefix\n"
                           "fe00::1\tip6-allnodes\n"
                           "fe00::2\tip6-allrouters\n"
                           "%s\t%s\n",
                           pod_ip ? pod_ip : "127.0.1.1", hostname);
    return crisp_write_file_atomic(path, text, strlen(text), 0644, err);
}

int crisp_pod_files_write(const char *dir, const Runtime__V1__PodSandboxConfig *config,
                          const char *hostname, bool host_network, const char *pod_ip,
                          struct crisp_err *err)
{
    int r = write_resolv_conf(dir, config->dns_config, err);
    if (r == 0)
        r = write_hosts(dir, hostname, host_network, pod_ip, err);
    if (r == 0) {
        _cleanup_free_ char *path = crisp_xasprintf("%s/hostname", dir);
        _cleanup_free_ char *text = crisp_xasprintf("%s\n", hostname);
        r = crisp_write_file_atomic(path, text, strlen(text), 0644, err);
    }
    return r;
}
