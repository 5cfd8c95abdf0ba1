#define _GNU_SOURCE
#include "capabilities.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

static const int default_caps[] = {
    CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
    CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
    CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
    CAP_KILL,    CAP_AUDIT_WRITE,
};

#define N_DEFAULT_CAPS (sizeof(default_caps) / sizeof(default_caps[0]))

const int *crisp_cap_default_set(size_t *n)
{
    *n = N_DEFAULT_CAPS;
    return default_caps;
}

/* 1 in the bounding set, 0 not, -1 unknown to the kernel (EINVAL). */
static int in_bounding_set(int cap)
{
    return prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
}

size_t crisp_cap_all(int *out, size_t size)
{
    size_t n = 0;
    for (int cap = 0; cap < CRISP_CAP_MAX; cap++) {
        int r = in_bounding_set(cap);
        if (r < 0)
            break;
        if (r == 1 && n < size)
            out[n] = cap;
        n += r == 1;
    }
    return n;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

const char *crisp_cap_name(int cap, char *buf, size_t size)
{
    if (cap < 0 || cap >= CRISP_CAP_MAX)
        return NULL;
    char *name = cap_to_name(cap); /* "cap_chown", or the number when libcap has no name */
    if (!name)
        return NULL;
    const char *out = NULL;
    size_t len = strlen(name);
    if (strncmp(name, "cap_", 4) == 0 && len < size) {
        for (size_t i = 0; i <= len; i++)
            buf[i] = ascii_upper(name[i]);
        out = buf;
    }
    cap_free(name);
    return out;
}

int crisp_cap_from_name(const char *name)
{
    if (!name)
        return -EINVAL;
    const char *base = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
    size_t len = strlen(base);
    char full[CRISP_CAP_NAME_MAX] = "cap_";
    if (len == 0 || len >= sizeof(full) - 4)
        return -EINVAL;
    /* letters and '_' only: libcap would also take numbers and stop at the first other byte */
    for (size_t i = 0; i < len; i++) {
        char c = ascii_lower(base[i]);
        if ((c < 'a' || c > 'z') && c != '_')
            return -EINVAL;
        full[4 + i] = c;
    }
    full[4 + len] = '\0';
    cap_value_t cap;
    if (cap_from_name(full, &cap) < 0 || cap < 0 || cap >= CRISP_CAP_MAX)
        return -EINVAL;
    /* the whole name, not a prefix of it */
    char check[CRISP_CAP_NAME_MAX];
    if (!crisp_cap_name(cap, check, sizeof(check)) || strcasecmp(check, full) != 0)
        return -EINVAL;
    return cap;
}

/* "CAP_CHOWN", or "capability 41" when it has no name. */
static const char *label(int cap, char *buf, size_t size)
{
    if (!crisp_cap_name(cap, buf, size))
        snprintf(buf, size, "capability %d", cap);
    return buf;
}

int crisp_rt_caps_validate(const struct crisp_process *p, struct crisp_err *err)
{
    const char *bad = NULL;
    if (!p->caps_set && p->n_caps)
        bad = "caps given but caps_set is false";
    else if (p->n_caps && !p->caps)
        bad = "caps missing";
    for (size_t i = 0; !bad && i < p->n_caps; i++)
        if (p->caps[i] < 0 || p->caps[i] >= CRISP_CAP_MAX || in_bounding_set(p->caps[i]) < 0)
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "process: capability %d is unknown to the kernel", p->caps[i]);
    if (bad)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "process: %s", bad);
    return 0;
}

static bool wanted(const struct crisp_process *p, int cap)
{
    for (size_t i = 0; i < p->n_caps; i++)
        if (p->caps[i] == cap)
            return true;
    return false;
}

int crisp_rt_caps_bound(const struct crisp_process *p, struct crisp_err *err)
{
    if (!p->caps_set)
        return 0;
    char name[CRISP_CAP_NAME_MAX];
    for (size_t i = 0; i < p->n_caps; i++)
        if (in_bounding_set(p->caps[i]) != 1)
            return crisp_errorf(err, GRPC_STATUS_PERMISSION_DENIED, EPERM,
                                "%s cannot be granted: it is not in crisp's own bounding set",
                                label(p->caps[i], name, sizeof(name)));
    for (int cap = 0; cap < CRISP_CAP_MAX; cap++) {
        int r = in_bounding_set(cap);
        if (r < 0)
            break; /* past the kernel's last capability */
        if (r == 1 && !wanted(p, cap) && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
            return crisp_syserrf(err, errno, "drop %s from the bounding set",
                                 label(cap, name, sizeof(name)));
    }
    return 0;
}

int crisp_rt_caps_apply(const struct crisp_process *p, struct crisp_err *err)
{
    if (!p->caps_set)
        return 0;
    /* EINVAL: a kernel without ambient capabilities (< 4.3) has none to clear */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return crisp_syserrf(err, errno, "clear the ambient capabilities");
    cap_t set = cap_init(); /* every flag clear */
    if (!set)
        return crisp_syserrf(err, errno, "cap_init");
    static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
    int r = 0;
    for (size_t i = 0; p->uid == 0 && r == 0 && i < p->n_caps; i++)
        for (size_t f = 0; r == 0 && f < sizeof(flags) / sizeof(flags[0]); f++)
            if (cap_set_flag(set, flags[f], 1, &p->caps[i], CAP_SET) < 0) {
                char name[CRISP_CAP_NAME_MAX];
                r = crisp_syserrf(err, errno, "set %s", label(p->caps[i], name, sizeof(name)));
            }
    if (r == 0 && cap_set_proc(set) < 0)
        r = crisp_syserrf(err, errno, "set the capabilities");
    cap_free(set);
    return r;
}
