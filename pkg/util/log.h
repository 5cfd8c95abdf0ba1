/* Levelled logging: one line per event to stderr (journald picks it up),
 * "<RFC3339 time> <level> <component>: <message>". Thread-safe. */
#pragma once

enum crisp_log_level {
    CRISP_LOG_ERROR,
    CRISP_LOG_WARN,
    CRISP_LOG_INFO,
    CRISP_LOG_DEBUG,
};

void crisp_log_set_level(enum crisp_log_level level);
int crisp_log_enabled(enum crisp_log_level level);
/* Returns 0 and sets *out for "error", "warn", "info", "debug"; -EINVAL otherwise. */
int crisp_log_level_parse(const char *name, enum crisp_log_level *out);
const char *crisp_log_level_name(enum crisp_log_level level);

void crisp_log(enum crisp_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(comp, ...) crisp_log(CRISP_LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  crisp_log(CRISP_LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  crisp_log(CRISP_LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) crisp_log(CRISP_LOG_DEBUG, comp, __VA_ARGS__)
