/* The systemd driver's D-Bus side (sd-bus): ping, StartTransientUnit of a
 * scope with its resource properties, StopUnit, and waiting for their jobs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "runtime/cgroup_systemd.h"
#include "util/cleanup.h"
#include "util/mem.h"

#define SD_DEST          "org.freedesktop.systemd1"
#define SD_PATH          "/org/freedesktop/systemd1"
#define SD_MANAGER       "org.freedesktop.systemd1.Manager"
#define JOB_TIMEOUT_USEC (30ull * 1000 * 1000)
#define CPUSET_MAX_CPUS  8192

static const char *bus_address(void)
{
    const char *a = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return a && *a ? a : "unix:path=/run/dbus/system_bus_socket";
}

static void bus_unrefp(sd_bus **b)
{
    sd_bus_flush_close_unref(*b);
}
static void msg_unrefp(sd_bus_message **m)
{
    sd_bus_message_unref(*m);
}
static void slot_unrefp(sd_bus_slot **s)
{
    sd_bus_slot_unref(*s);
}
#define _cleanup_bus_  __attribute__((cleanup(bus_unrefp)))
#define _cleanup_msg_  __attribute__((cleanup(msg_unrefp)))
#define _cleanup_slot_ __attribute__((cleanup(slot_unrefp)))

static int open_bus(sd_bus **bus, struct crisp_err *err)
{
    int r = sd_bus_open_system(bus);
    if (r < 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, -r,
                            "systemd cgroup driver: cannot connect to the system bus at %s: %s",
                            bus_address(), strerror(-r));
    return 0;
}

/* A failed D-Bus call as an error naming the method and systemd's answer. */
static int call_failed(const char *method, int r, const sd_bus_error *e, struct crisp_err *err)
{
    return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, r < 0 ? -r : EIO,
                        "systemd cgroup driver: %s on %s: %s%s%s", method, bus_address(),
                        e && e->name ? e->name : strerror(r < 0 ? -r : EIO),
                        e && e->message ? ": " : "", e && e->message ? e->message : "");
}

int crisp_systemd_ping(char **version, struct crisp_err *err)
{
    _cleanup_bus_ sd_bus *bus = NULL;
    int r = open_bus(&bus, err);
    if (r < 0)
        return r;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    char *v = NULL;
    r = sd_bus_get_property_string(bus, SD_DEST, SD_PATH, SD_MANAGER, "Version", &e, &v);
    if (r < 0) {
        r = call_failed("get the Manager's Version", r, &e, err);
        sd_bus_error_free(&e);
        return r;
    }
    *version = crisp_xstrdup(v);
    free(v);
    return 0;
}

/* ---- waiting for a job ---- */

struct job_wait {
    char *job;    /* the job's object path, once the call returned it */
    char *result; /* "done", "failed", ... once JobRemoved came */
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
    (void)e;
    struct job_wait *w = userdata;
    uint32_t id;
    const char *path, *unit, *result;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
        return 0;
    if (w->job && !w->result && strcmp(path, w->job) == 0)
        w->result = crisp_xstrdup(result);
    return 0;
}

/* Subscribes (systemd sends job signals to subscribers only) and matches
 * JobRemoved; done before the call so the signal cannot be missed. */
static int watch_jobs(sd_bus *bus, struct job_wait *w, sd_bus_slot **slot, struct crisp_err *err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = sd_bus_match_signal(bus, slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
                                on_job_removed, w);
    if (r < 0)
        return call_failed("match JobRemoved", r, NULL, err);
    r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", &e, NULL, "");
    if (r < 0) {
        r = call_failed("Subscribe", r, &e, err);
        sd_bus_error_free(&e);
        return r;
    }
    return 0;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int wait_job(sd_bus *bus, struct job_wait *w, const char *what, struct crisp_err *err)
{
    uint64_t deadline = now_usec() + JOB_TIMEOUT_USEC;
    while (!w->result) {
        int r = sd_bus_process(bus, NULL);
        if (r < 0)
            return call_failed(what, r, NULL, err);
        if (r > 0)
            continue;
        uint64_t now = now_usec();
        if (now >= deadline)
            return crisp_errorf(err, GRPC_STATUS_DEADLINE_EXCEEDED, ETIMEDOUT,
                                "systemd cgroup driver: %s: job %s did not finish in %llu s", what,
                                w->job, JOB_TIMEOUT_USEC / 1000000);
        r = sd_bus_wait(bus, deadline - now);
        if (r < 0)
            return call_failed(what, r, NULL, err);
    }
    if (strcmp(w->result, "done") != 0)
        return crisp_errorf(err, GRPC_STATUS_FAILED_PRECONDITION, EIO,
                            "systemd cgroup driver: %s: job %s ended \"%s\"", what, w->job,
                            w->result);
    return 0;
}

/* Sends m, reads the job path it returns, waits for the job. A method error
 * named ignore_error counts as success (*ignored set). */
static int call_job(sd_bus *bus, sd_bus_message *m, const char *what, const char *ignore_error,
                    struct job_wait *w, struct crisp_err *err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    _cleanup_msg_ sd_bus_message *reply = NULL;
    int r = sd_bus_call(bus, m, JOB_TIMEOUT_USEC, &e, &reply);
    if (r < 0) {
        bool ignored = ignore_error && sd_bus_error_has_name(&e, ignore_error);
        r = ignored ? 0 : call_failed(what, r, &e, err);
        sd_bus_error_free(&e);
        return r;
    }
    const char *job;
    r = sd_bus_message_read(reply, "o", &job);
    if (r < 0)
        return call_failed(what, r, NULL, err);
    w->job = crisp_xstrdup(job);
    return wait_job(bus, w, what, err);
}

/* ---- StartTransientUnit properties ---- */

/* "0-3,8" -> systemd's CPU/NUMA bitmask (byte i holds 8i..8i+7). */
static int cpuset_bits(const char *list, uint8_t **bits, size_t *n, struct crisp_err *err)
{
    uint8_t *b = crisp_xcalloc(CPUSET_MAX_CPUS / 8, 1);
    size_t used = 0;
    const char *p = list;
    while (*p) {
        char *end;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (end != p && *end == '-') {
            p = end + 1;
            hi = strtoul(p, &end, 10);
        }
        if (end == p || hi < lo || hi >= CPUSET_MAX_CPUS || (*end && *end != ',')) {
            free(b);
            return crisp_errorf(err, GRPC_STATUS_INVALID_ARGUMENT, EINVAL,
                                "cpuset \"%s\": expected a list like \"0-3,8\" below %d", list,
                                CPUSET_MAX_CPUS);
        }
        for (unsigned long c = lo; c <= hi; c++)
            b[c / 8] |= (uint8_t)(1u << (c % 8));
        used = used > hi / 8 + 1 ? used : hi / 8 + 1;
        p = *end ? end + 1 : end;
    }
    *bits = b;
    *n = used;
    return 0;
}

static int append_bits(sd_bus_message *m, const char *name, const char *list, struct crisp_err *err)
{
    if (!list || !*list)
        return 0;
    _cleanup_free_ uint8_t *bits = NULL;
    size_t n = 0;
    int r = cpuset_bits(list, &bits, &n, err);
    if (r < 0)
        return r;
    if (sd_bus_message_open_container(m, 'r', "sv") < 0 ||
        sd_bus_message_append(m, "s", name) < 0 ||
        sd_bus_message_open_container(m, 'v', "ay") < 0 ||
        sd_bus_message_append_array(m, 'y', bits, n) < 0 || sd_bus_message_close_container(m) < 0 ||
        sd_bus_message_close_container(m) < 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, ENOMEM, "build D-Bus property %s", name);
    return 0;
}

static int append_u64(sd_bus_message *m, const char *name, uint64_t v)
{
    return sd_bus_message_append(m, "(sv)", name, "t", v);
}

/* The limits systemd knows, under the names of the hierarchy in use. */
static int append_resources(sd_bus_message *m, const struct crisp_systemd_scope *s,
                            struct crisp_err *err)
{
    const struct crisp_cgroup_resources *res = s->res;
    bool v2 = s->mode == CRISP_CGROUP_V2;
    int r = 0;
    if (res->has_cpu_shares)
        r = v2 ? append_u64(m, "CPUWeight", 1 + ((uint64_t)(res->cpu_shares - 2) * 9999) / 262142)
               : append_u64(m, "CPUShares", (uint64_t)res->cpu_shares);
    if (r >= 0 && res->has_cpu_quota && res->cpu_quota > 0) {
        uint64_t period = res->has_cpu_period ? (uint64_t)res->cpu_period : 100000;
        r = append_u64(m, "CPUQuotaPerSecUSec", (uint64_t)res->cpu_quota * 1000000 / period);
        if (r >= 0 && res->has_cpu_period)
            r = append_u64(m, "CPUQuotaPeriodUSec", period);
    }
    if (r >= 0 && res->has_memory_limit && res->memory_limit > 0)
        r = append_u64(m, v2 ? "MemoryMax" : "MemoryLimit", (uint64_t)res->memory_limit);
    if (r >= 0 && res->has_pids_limit && res->pids_limit > 0)
        r = append_u64(m, "TasksMax", (uint64_t)res->pids_limit);
    if (r < 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, -r, "build D-Bus resource properties");
    r = append_bits(m, "AllowedCPUs", res->cpuset_cpus, err);
    return r < 0 ? r : append_bits(m, "AllowedMemoryNodes", res->cpuset_mems, err);
}

/* StartTransientUnit of the scope arg (a struct crisp_systemd_scope). */
static int build_start(sd_bus *bus, const void *arg, sd_bus_message **out, struct crisp_err *err)
{
    const struct crisp_systemd_scope *s = arg;
    _cleanup_msg_ sd_bus_message *m = NULL;
    _cleanup_free_ char *desc = crisp_xasprintf("crisp %s", s->unit);
    int r =
        sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
    if (r >= 0)
        r = sd_bus_message_append(m, "ss", s->unit, "replace");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "(sv)");
    if (r >= 0)
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", desc, "PIDs", "au", 1,
                                  (uint32_t)s->pid, "Delegate", "b", 1, "DefaultDependencies", "b",
                                  0);
    if (r >= 0 && *s->slice)
        r = sd_bus_message_append(m, "(sv)", "Slice", "s", s->slice);
    if (r < 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, -r, "build StartTransientUnit");
    if (s->res && (r = append_resources(m, s, err)) < 0)
        return r;
    if ((r = sd_bus_message_close_container(m)) < 0 ||
        (r = sd_bus_message_append(m, "a(sa(sv))", 0)) < 0)
        return crisp_errorf(err, GRPC_STATUS_INTERNAL, -r, "build StartTransientUnit");
    *out = m;
    m = NULL;
    return 0;
}

static void job_wait_free(struct job_wait *w)
{
    free(w->job);
    free(w->result);
}

/* Builds a job-returning Manager call with build(bus, arg), sends it and waits
 * for its job, on a connection of its own. */
typedef int (*build_fn)(sd_bus *bus, const void *arg, sd_bus_message **out, struct crisp_err *err);

static int run_job(build_fn build, const void *arg, const char *what, const char *ignore_error,
                   struct crisp_err *err)
{
    _cleanup_bus_ sd_bus *bus = NULL;
    _cleanup_slot_ sd_bus_slot *slot = NULL;
    _cleanup_msg_ sd_bus_message *m = NULL;
    struct job_wait w = {0};
    int r = open_bus(&bus, err);
    if (r == 0)
        r = watch_jobs(bus, &w, &slot, err);
    if (r == 0)
        r = build(bus, arg, &m, err);
    if (r == 0)
        r = call_job(bus, m, what, ignore_error, &w, err);
    job_wait_free(&w);
    return r;
}

int crisp_systemd_start_scope(const struct crisp_systemd_scope *s, struct crisp_err *err)
{
    return run_job(build_start, s, "StartTransientUnit", NULL, err);
}

static int build_stop(sd_bus *bus, const void *unit, sd_bus_message **out, struct crisp_err *err)
{
    int r = sd_bus_message_new_method_call(bus, out, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit");
    if (r >= 0)
        r = sd_bus_message_append(*out, "ss", (const char *)unit, "replace");
    return r < 0 ? crisp_errorf(err, GRPC_STATUS_INTERNAL, -r, "build StopUnit") : 0;
}

int crisp_systemd_stop_unit(const char *unit, struct crisp_err *err)
{
    return run_job(build_stop, unit, "StopUnit", "org.freedesktop.systemd1.NoSuchUnit", err);
}
