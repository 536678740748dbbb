/* log.c — ACCEL_LOADER_DEBUG, log callbacks, the last-error detail. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "os.h"

static _Thread_local char last_error[1024];

const char *accel_last_error_message(void)
{
    return last_error;
}

accel_result accel__error(accel_result result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return result;
}

static const struct {
    const char *word;
    uint32_t mask;
} debug_words[] = {
    {"error", ACCEL_LOG_ERROR}, {"warn", ACCEL_LOG_WARN},     {"info", ACCEL_LOG_INFO},
    {"debug", ACCEL_LOG_DEBUG}, {"driver", ACCEL_LOG_DRIVER}, {"all", ACCEL_LOG_ALL},
};

uint32_t accel__parse_debug_mask(const char *value, const char **bad, size_t *bad_len)
{
    uint32_t mask = 0;
    if (bad)
        *bad = NULL;
    const char *s = value;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *w = s;
        while (len && (*w == ' ' || *w == '\t')) {
            w++;
            len--;
        }
        while (len && (w[len - 1] == ' ' || w[len - 1] == '\t'))
            len--;
        if (len) {
            size_t i;
            for (i = 0; i < sizeof(debug_words) / sizeof(debug_words[0]); i++) {
                if (strlen(debug_words[i].word) == len && strncmp(debug_words[i].word, w, len) == 0) {
                    mask |= debug_words[i].mask;
                    break;
                }
            }
            if (i == sizeof(debug_words) / sizeof(debug_words[0]) && bad && !*bad) {
                *bad = w;
                *bad_len = len;
            }
        }
        s = end ? end + 1 : NULL;
    }
    return mask;
}

void accel__logger_init(accel__logger *lg, accel_log_callback cb, void *user_data, uint32_t cb_mask)
{
    const char *bad = NULL;
    size_t bad_len = 0;
    const char *env = accel__getenv("ACCEL_LOADER_DEBUG");
    lg->stderr_mask = accel__parse_debug_mask(env, &bad, &bad_len);
    lg->callback = cb;
    lg->user_data = user_data;
    lg->callback_mask = cb_mask;
    if (bad)
        fprintf(stderr, "accel-loader: warn: ACCEL_LOADER_DEBUG: unknown category '%.*s' (known: "
                        "error,warn,info,debug,driver,all)\n",
                (int)bad_len, bad);
}

static const char *level_word(accel_log_level level)
{
    switch (level) {
    case ACCEL_LOG_ERROR: return "error";
    case ACCEL_LOG_WARN: return "warn";
    case ACCEL_LOG_INFO: return "info";
    case ACCEL_LOG_DEBUG: return "debug";
    case ACCEL_LOG_DRIVER: return "driver";
    default: return "log";
    }
}

void accel__log_line(const accel__logger *lg, accel_log_level level, const char *line)
{
    if (!lg)
        return;
    if (lg->stderr_mask & (uint32_t)level)
        fprintf(stderr, "accel-loader: %s: %s\n", level_word(level), line);
    if (lg->callback && (lg->callback_mask & (uint32_t)level))
        lg->callback(lg->user_data, level, line);
}

void accel__log(const accel__logger *lg, accel_log_level level, const char *fmt, ...)
{
    if (!accel__log_enabled(lg, level))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    accel__log_line(lg, level, line);
}
