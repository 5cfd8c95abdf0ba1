/* OCI LinuxSeccomp JSON (plus Docker's archMap, name, includes/excludes) -> libseccomp rules.
 * The format and the rules are described in runtime/seccomp.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "runtime/capabilities.h"
#include "runtime/seccomp_internal.h"
#include "util/cleanup.h"

#define N(a)       (sizeof(a) / sizeof((a)[0]))
#define FIELD_MAX  112
#define MAX_ARGS   6 /* syscall arguments */
#define ERRNO_MAX  4095
#define TRACE_MAX  65535
#define ARCH_PFX   "SCMP_ARCH_"
#define ACTION_PFX "SCMP_ACT_"

struct parser {
    bool dry;
    struct crisp_seccomp_filter *f;
    const struct crisp_process *p;
    struct crisp_err *err;
};

static int bad(const struct parser *ps, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(const struct parser *ps, const char *field, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return crisp_errorf(ps->err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL, "seccomp profile: %s: %s",
                        field, what);
}

/* A string for messages: at most 48 bytes of it. */
#define SHOW(s) 48, (s)

static bool absent(const json_t *v)
{
    return !v || json_is_null(v);
}

/* ---- actions ---- */

enum action_data { NO_DATA, ERRNO_DATA, TRACE_DATA };

static const struct {
    const char *name; /* after SCMP_ACT_ */
    uint32_t action;
    enum action_data data;
} actions[] = {
    {"KILL", SCMP_ACT_KILL, NO_DATA},
    {"KILL_THREAD", SCMP_ACT_KILL_THREAD, NO_DATA},
    {"KILL_PROCESS", SCMP_ACT_KILL_PROCESS, NO_DATA},
    {"TRAP", SCMP_ACT_TRAP, NO_DATA},
    {"ERRNO", SCMP_ACT_ERRNO(0), ERRNO_DATA},
    {"TRACE", SCMP_ACT_TRACE(0), TRACE_DATA},
    {"ALLOW", SCMP_ACT_ALLOW, NO_DATA},
    {"LOG", SCMP_ACT_LOG, NO_DATA},
};

/* action (a string) with its errnoRet (absent: EPERM); field is "defaultAction" or
 * "syscalls[3].action", errno_field the errnoRet's name. */
static int parse_action(const struct parser *ps, json_t *action, json_t *errno_ret,
                        const char *field, const char *errno_field, uint32_t *out)
{
    if (!json_is_string(action))
        return bad(ps, field, absent(action) ? "missing" : "expected a string");
    const char *name = json_string_value(action);
    size_t i = N(actions);
    if (strncmp(name, ACTION_PFX, strlen(ACTION_PFX)) == 0)
        for (i = 0; i < N(actions); i++)
            if (strcmp(name + strlen(ACTION_PFX), actions[i].name) == 0)
                break;
    if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
        return bad(ps, field, "SCMP_ACT_NOTIFY is not supported");
    if (i == N(actions) || strlen(name) != json_string_length(action))
        return bad(ps, field, "unknown action \"%.*s\"", SHOW(name));
    json_int_t data = EPERM;
    if (!absent(errno_ret)) {
        json_int_t max = actions[i].data == TRACE_DATA ? TRACE_MAX : ERRNO_MAX;
        if (actions[i].data == NO_DATA)
            return bad(ps, errno_field, "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one");
        if (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0 ||
            json_integer_value(errno_ret) > max)
            return bad(ps, errno_field, "expected an integer in 0..%lld", (long long)max);
        data = json_integer_value(errno_ret);
    }
    *out = actions[i].action;
    if (actions[i].data == ERRNO_DATA)
        *out = SCMP_ACT_ERRNO((uint32_t)data);
    else if (actions[i].data == TRACE_DATA)
        *out = SCMP_ACT_TRACE((uint32_t)data);
    return 0;
}

/* ---- architectures ---- */

/* The OCI names (after SCMP_ARCH_) of the architectures libseccomp 2.5 knows. */
static const struct {
    const char *name;
    uint32_t arch;
} arch_names[] = {
    {"X86", SCMP_ARCH_X86},
    {"X86_64", SCMP_ARCH_X86_64},
    {"X32", SCMP_ARCH_X32},
    {"ARM", SCMP_ARCH_ARM},
    {"AARCH64", SCMP_ARCH_AARCH64},
    {"MIPS", SCMP_ARCH_MIPS},
    {"MIPS64", SCMP_ARCH_MIPS64},
    {"MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"MIPSEL", SCMP_ARCH_MIPSEL},
    {"MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"PPC", SCMP_ARCH_PPC},
    {"PPC64", SCMP_ARCH_PPC64},
    {"PPC64LE", SCMP_ARCH_PPC64LE},
    {"S390", SCMP_ARCH_S390},
    {"S390X", SCMP_ARCH_S390X},
    {"PARISC", SCMP_ARCH_PARISC},
    {"PARISC64", SCMP_ARCH_PARISC64},
    {"RISCV64", SCMP_ARCH_RISCV64},
};

/* "SCMP_ARCH_X86_64" -> its token; 0 when unknown. */
static uint32_t arch_token(const json_t *v)
{
    const char *name = json_string_value(v);
    if (!name || strlen(name) != json_string_length(v) ||
        strncmp(name, ARCH_PFX, strlen(ARCH_PFX)) != 0)
        return 0;
    for (size_t i = 0; i < N(arch_names); i++)
        if (strcmp(name + strlen(ARCH_PFX), arch_names[i].name) == 0)
            return arch_names[i].arch;
    return 0;
}

static int add_arch(const struct parser *ps, const json_t *v, const char *field)
{
    uint32_t arch = arch_token(v);
    if (!arch)
        return bad(ps, field, "unknown architecture \"%.*s\"",
                   SHOW(json_is_string(v) ? json_string_value(v) : "(not a string)"));
    /* libseccomp cannot mix byte orders (it would say EDOM when building) */
    if ((arch ^ crisp_seccomp_native_arch()) & __AUDIT_ARCH_LE)
        return bad(ps, field, "\"%.*s\" has another byte order than the native architecture",
                   SHOW(json_string_value(v)));
    int r = crisp_seccomp_filter_add_arch(ps->f, arch);
    if (r < 0)
        return bad(ps, field, "cannot add the architecture: %s", strerror(-r));
    return 0;
}

static int parse_arches(const struct parser *ps, json_t *o)
{
    json_t *list = json_object_get(o, "architectures"), *map = json_object_get(o, "archMap");
    if (!absent(list) && !json_is_array(list))
        return bad(ps, "architectures", "expected an array of names");
    if (!absent(map) && !json_is_array(map))
        return bad(ps, "archMap", "expected an array");
    if (json_array_size(list) && json_array_size(map))
        return bad(ps, "archMap", "not allowed together with architectures");
    char field[FIELD_MAX];
    for (size_t i = 0; i < json_array_size(list); i++) {
        snprintf(field, sizeof(field), "architectures[%zu]", i);
        int r = add_arch(ps, json_array_get(list, i), field);
        if (r < 0)
            return r;
    }
    /* Docker's form: the entry of the native architecture brings its sub-architectures */
    for (size_t i = 0; i < json_array_size(map); i++) {
        json_t *e = json_array_get(map, i);
        snprintf(field, sizeof(field), "archMap[%zu].architecture", i);
        if (!json_is_object(e))
            return bad(ps, field, "expected an object");
        uint32_t arch = arch_token(json_object_get(e, "architecture"));
        if (!arch)
            return bad(ps, field, "unknown architecture");
        json_t *subs = json_object_get(e, "subArchitectures");
        snprintf(field, sizeof(field), "archMap[%zu].subArchitectures", i);
        if (!absent(subs) && !json_is_array(subs))
            return bad(ps, field, "expected an array of names");
        for (size_t j = 0; j < json_array_size(subs); j++) {
            snprintf(field, sizeof(field), "archMap[%zu].subArchitectures[%zu]", i, j);
            if (!arch_token(json_array_get(subs, j)))
                return bad(ps, field, "unknown architecture");
            int r = arch == crisp_seccomp_native_arch()
                        ? add_arch(ps, json_array_get(subs, j), field)
                        : 0;
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* ---- flags ---- */

static int parse_flags(const struct parser *ps, json_t *o)
{
    json_t *flags = json_object_get(o, "flags");
    if (!absent(flags) && !json_is_array(flags))
        return bad(ps, "flags", "expected an array of names");
    for (size_t i = 0; i < json_array_size(flags); i++) {
        const char *name = json_string_value(json_array_get(flags, i));
        char field[FIELD_MAX];
        snprintf(field, sizeof(field), "flags[%zu]", i);
        if (!name)
            return bad(ps, field, "expected a string");
        if (strcmp(name, "SECCOMP_FILTER_FLAG_LOG") == 0)
            ps->f->flags |= SECCOMP_FILTER_FLAG_LOG;
        else if (strcmp(name, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            ps->f->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        else if (strcmp(name, "SECCOMP_FILTER_FLAG_TSYNC") != 0 &&
                 strcmp(name, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") != 0)
            /* TSYNC: one thread only; WAIT_KILLABLE_RECV: only with a listener (refused) */
            return bad(ps, field, "unknown flag \"%.*s\"", SHOW(name));
    }
    json_t *listener = json_object_get(o, "listenerPath");
    if (!absent(listener) && (!json_is_string(listener) || json_string_length(listener) > 0))
        return bad(ps, "listenerPath", "seccomp user notification is not supported");
    return 0;
}

/* ---- includes / excludes (Docker's form) ---- */

static bool native_arch_is(const char *name)
{
    static const struct {
        uint32_t arch;
        const char *names[2];
    } aliases[] = {
        {SCMP_ARCH_X86_64, {"amd64", "x86_64"}},  {SCMP_ARCH_X86, {"386", "x86"}},
        {SCMP_ARCH_X32, {"x32", NULL}},           {SCMP_ARCH_AARCH64, {"arm64", "aarch64"}},
        {SCMP_ARCH_ARM, {"arm", NULL}},           {SCMP_ARCH_PPC64LE, {"ppc64le", NULL}},
        {SCMP_ARCH_PPC64, {"ppc64", NULL}},       {SCMP_ARCH_PPC, {"ppc", NULL}},
        {SCMP_ARCH_S390X, {"s390x", NULL}},       {SCMP_ARCH_S390, {"s390", NULL}},
        {SCMP_ARCH_RISCV64, {"riscv64", NULL}},   {SCMP_ARCH_MIPS64, {"mips64", NULL}},
        {SCMP_ARCH_MIPSEL64, {"mips64le", NULL}}, {SCMP_ARCH_MIPS, {"mips", NULL}},
        {SCMP_ARCH_MIPSEL, {"mipsle", NULL}},
    };
    uint32_t native = crisp_seccomp_native_arch();
    for (size_t i = 0; i < N(aliases); i++)
        for (size_t j = 0; aliases[i].arch == native && j < 2 && aliases[i].names[j]; j++)
            if (strcmp(name, aliases[i].names[j]) == 0)
                return true;
    return false;
}

/* "4.8" -> 4 * 1000 + 8; -1 when malformed. */
static long kernel_version(const char *s)
{
    unsigned int major, minor;
    int used = 0;
    if (sscanf(s, "%u.%u%n", &major, &minor, &used) != 2 || used == 0 || major > 1000 ||
        minor > 999)
        return -1;
    return (long)major * 1000 + minor;
}

/* What a condition block says (every key absent = nothing): all caps held / any cap held,
 * the native arch listed, the running kernel >= minKernel. */
struct condition {
    bool has_caps, has_arches, has_kernel;
    bool all_caps, any_cap, arch, kernel_ok;
};

static int parse_condition(const struct parser *ps, json_t *o, const char *base,
                           struct condition *c)
{
    *c = (struct condition){.all_caps = true};
    if (absent(o))
        return 0;
    char field[FIELD_MAX];
    snprintf(field, sizeof(field), "%s", base);
    if (!json_is_object(o))
        return bad(ps, field, "expected an object");
    json_t *caps = json_object_get(o, "caps"), *arches = json_object_get(o, "arches");
    json_t *kernel = json_object_get(o, "minKernel");
    snprintf(field, sizeof(field), "%.80s.caps", base);
    if (!absent(caps) && !json_is_array(caps))
        return bad(ps, field, "expected an array of capability names");
    for (size_t i = 0; i < json_array_size(caps); i++) {
        const char *name = json_string_value(json_array_get(caps, i));
        int cap = name ? crisp_cap_from_name(name) : -EINVAL;
        snprintf(field, sizeof(field), "%.80s.caps[%zu]", base, i);
        if (cap < 0)
            return bad(ps, field, "unknown capability \"%.*s\"", SHOW(name ? name : "?"));
        bool held = crisp_seccomp_has_cap(ps->p, cap);
        c->has_caps = true;
        c->all_caps = c->all_caps && held;
        c->any_cap = c->any_cap || held;
    }
    snprintf(field, sizeof(field), "%.80s.arches", base);
    if (!absent(arches) && !json_is_array(arches))
        return bad(ps, field, "expected an array of architecture names");
    for (size_t i = 0; i < json_array_size(arches); i++) {
        const char *name = json_string_value(json_array_get(arches, i));
        snprintf(field, sizeof(field), "%.80s.arches[%zu]", base, i);
        if (!name)
            return bad(ps, field, "expected a string");
        c->has_arches = true;
        c->arch = c->arch || native_arch_is(name);
    }
    if (!absent(kernel)) {
        snprintf(field, sizeof(field), "%.80s.minKernel", base);
        long want = json_is_string(kernel) ? kernel_version(json_string_value(kernel)) : -1;
        if (want < 0)
            return bad(ps, field, "expected \"<major>.<minor>\"");
        struct utsname u;
        long have = uname(&u) == 0 ? kernel_version(u.release) : -1;
        c->has_kernel = true;
        c->kernel_ok = have >= want;
    }
    return 0;
}

/* moby's semantics: excluded when the native arch is listed, any of the caps is held, or the
 * kernel is recent enough; included only when the arch is listed, all the caps are held and
 * the kernel is recent enough. */
static int rule_applies(const struct parser *ps, json_t *call, const char *base, bool *applies)
{
    struct condition inc, exc;
    char field[FIELD_MAX];
    snprintf(field, sizeof(field), "%.80s.includes", base);
    int r = parse_condition(ps, json_object_get(call, "includes"), field, &inc);
    snprintf(field, sizeof(field), "%.80s.excludes", base);
    if (r == 0)
        r = parse_condition(ps, json_object_get(call, "excludes"), field, &exc);
    if (r < 0)
        return r;
    *applies = !(exc.has_arches && exc.arch) && !(exc.has_caps && exc.any_cap) &&
               !(exc.has_kernel && exc.kernel_ok) && !(inc.has_arches && !inc.arch) &&
               !(inc.has_caps && !inc.all_caps) && !(inc.has_kernel && !inc.kernel_ok);
    return 0;
}

/* ---- syscalls ---- */

static const struct {
    const char *name;
    enum scmp_compare op;
} ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static int arg_value(const struct parser *ps, json_t *v, const char *field, bool required,
                     scmp_datum_t *out)
{
    *out = 0;
    if (absent(v) && !required)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(ps, field, absent(v) ? "missing" : "expected an integer >= 0");
    *out = (scmp_datum_t)json_integer_value(v);
    return 0;
}

static int parse_arg(const struct parser *ps, json_t *a, const char *base, struct scmp_arg_cmp *out)
{
    char field[FIELD_MAX];
    snprintf(field, sizeof(field), "%s", base);
    if (!json_is_object(a))
        return bad(ps, field, "expected an object");
    json_t *index = json_object_get(a, "index"), *op = json_object_get(a, "op");
    snprintf(field, sizeof(field), "%.80s.index", base);
    if (!json_is_integer(index) || json_integer_value(index) < 0 ||
        json_integer_value(index) >= MAX_ARGS)
        return bad(ps, field, absent(index) ? "missing" : "expected an integer in 0..%d",
                   MAX_ARGS - 1);
    snprintf(field, sizeof(field), "%.80s.op", base);
    const char *name = json_string_value(op);
    size_t i = 0;
    while (name && i < N(ops) && strcmp(name, ops[i].name) != 0)
        i++;
    if (!name)
        return bad(ps, field, absent(op) ? "missing" : "expected a string");
    if (i == N(ops) || strlen(name) != json_string_length(op))
        return bad(ps, field, "unknown operator \"%.*s\"", SHOW(name));
    *out = (struct scmp_arg_cmp){.arg = (unsigned int)json_integer_value(index), .op = ops[i].op};
    snprintf(field, sizeof(field), "%.80s.value", base);
    int r = arg_value(ps, json_object_get(a, "value"), field, true, &out->datum_a);
    snprintf(field, sizeof(field), "%.80s.valueTwo", base);
    if (r == 0)
        r = arg_value(ps, json_object_get(a, "valueTwo"), field, false, &out->datum_b);
    return r;
}

/* The rule(s) for one name: one rule with every condition, or, when an argument is tested
 * twice, one rule per condition (libseccomp cannot AND them; runc does the same). */
static int add_rules(const struct parser *ps, const char *base, const char *name, uint32_t action,
                     const struct scmp_arg_cmp *conds, size_t n)
{
    bool repeated = false;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            repeated = repeated || conds[i].arg == conds[j].arg;
    for (size_t i = 0; i < (repeated ? n : 1); i++) {
        int r = repeated ? crisp_seccomp_filter_rule(ps->f, name, action, 1, &conds[i])
                         : crisp_seccomp_filter_rule(ps->f, name, action, (unsigned int)n, conds);
        if (r < 0)
            return bad(ps, base, "rule for \"%.*s\" refused by libseccomp: %s", SHOW(name),
                       strerror(-r));
    }
    return 0;
}

static int parse_names(const struct parser *ps, json_t *call, const char *base, json_t **out)
{
    char field[FIELD_MAX];
    json_t *names = json_object_get(call, "names"), *name = json_object_get(call, "name");
    snprintf(field, sizeof(field), "%.80s.names", base);
    if (!absent(names) && !json_is_array(names))
        return bad(ps, field, "expected an array of syscall names");
    if (json_array_size(names) == 0 && !absent(name)) { /* Docker's "name" */
        snprintf(field, sizeof(field), "%.80s.name", base);
        if (!json_is_string(name) || json_string_length(name) == 0)
            return bad(ps, field, "expected a syscall name");
        *out = json_pack("[O]", name);
        return 0;
    }
    if (json_array_size(names) == 0)
        return bad(ps, field, "expected a non-empty array of syscall names");
    for (size_t i = 0; i < json_array_size(names); i++) {
        json_t *e = json_array_get(names, i);
        snprintf(field, sizeof(field), "%.80s.names[%zu]", base, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e))
            return bad(ps, field, "expected a syscall name");
    }
    *out = json_incref(names);
    return 0;
}

static int parse_syscall(const struct parser *ps, json_t *call, size_t index)
{
    char base[FIELD_MAX / 2], field[FIELD_MAX], errno_field[FIELD_MAX];
    snprintf(base, sizeof(base), "syscalls[%zu]", index);
    if (!json_is_object(call))
        return bad(ps, base, "expected an object");
    _cleanup_json_ json_t *names = NULL;
    int r = parse_names(ps, call, base, &names);
    if (r < 0)
        return r;
    uint32_t action;
    snprintf(field, sizeof(field), "%.80s.action", base);
    snprintf(errno_field, sizeof(errno_field), "%.80s.errnoRet", base);
    r = parse_action(ps, json_object_get(call, "action"), json_object_get(call, "errnoRet"), field,
                     errno_field, &action);
    if (r < 0)
        return r;
    json_t *args = json_object_get(call, "args");
    snprintf(field, sizeof(field), "%.80s.args", base);
    if (!absent(args) && !json_is_array(args))
        return bad(ps, field, "expected an array");
    if (json_array_size(args) > MAX_ARGS)
        return bad(ps, field, "more than %d conditions", MAX_ARGS);
    struct scmp_arg_cmp conds[MAX_ARGS];
    size_t n = json_array_size(args);
    for (size_t i = 0; i < n; i++) {
        snprintf(field, sizeof(field), "%.80s.args[%zu]", base, i);
        r = parse_arg(ps, json_array_get(args, i), field, &conds[i]);
        if (r < 0)
            return r;
    }
    bool applies;
    r = rule_applies(ps, call, base, &applies);
    for (size_t i = 0; r == 0 && applies && i < json_array_size(names); i++)
        r = add_rules(ps, base, json_string_value(json_array_get(names, i)), action, conds, n);
    return r;
}

static int parse_profile(const struct parser *ps, json_t *o)
{
    if (!json_is_object(o))
        return bad(ps, "/", "expected an object");
    uint32_t def;
    int r =
        parse_action(ps, json_object_get(o, "defaultAction"), json_object_get(o, "defaultErrnoRet"),
                     "defaultAction", "defaultErrnoRet", &def);
    if (r < 0)
        return r;
    if (crisp_seccomp_filter_init(ps->f, ps->p, def, ps->dry) < 0)
        return crisp_syserrf(ps->err, ENOMEM, "seccomp profile");
    r = parse_flags(ps, o);
    if (r == 0)
        r = parse_arches(ps, o);
    json_t *calls = json_object_get(o, "syscalls");
    if (r == 0 && !absent(calls) && !json_is_array(calls))
        r = bad(ps, "syscalls", "expected an array");
    for (size_t i = 0; r == 0 && i < json_array_size(calls); i++)
        r = parse_syscall(ps, json_array_get(calls, i), i);
    if (r < 0)
        crisp_seccomp_filter_release(ps->f);
    return r;
}

int crisp_seccomp_profile_build(struct crisp_seccomp_filter *f, const struct crisp_process *p,
                                const char *json, bool dry, struct crisp_err *err)
{
    *f = (struct crisp_seccomp_filter){0};
    json_error_t jerr;
    _cleanup_json_ json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                            "seccomp profile: line %d column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    const struct parser ps = {.dry = dry, .f = f, .p = p, .err = err};
    return parse_profile(&ps, o);
}
