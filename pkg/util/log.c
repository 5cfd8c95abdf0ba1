#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static atomic_int current_level = CRISP_LOG_INFO;

void crisp_log_set_level(enum crisp_log_level level)
{
    atomic_store(&current_level, level);
}

int crisp_log_enabled(enum crisp_log_level level)
{
    return (int)level <= atomic_load(&current_level);
}

int crisp_log_level_parse(const char *name, enum crisp_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum crisp_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *crisp_log_level_name(enum crisp_log_level level)
{
    return level_names[level];
}

/* Newlines inside a message would break the one-line-per-event rule. */
static void flatten_newlines(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

void crisp_log(enum crisp_log_level level, const char *component, const char *fmt, ...)
{
    if (!crisp_log_enabled(level))
        return;
    int saved_errno = errno;
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);

    char line[2048];
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000, level_names[level], component);
    if (n < 0 || (size_t)n > sizeof(line) / 2) /* an absurd component name */
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    flatten_newlines(line + n);
    size_t len = strlen(line);
    line[len++] = '\n';
    /* One write per line keeps lines from concurrent threads whole. */
    if (write(STDERR_FILENO, line, len) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
    errno = saved_errno;
}
