/* log.h — loader logging (ACCEL_LOADER_DEBUG, instance callbacks) and the
 * thread-local last-error detail. */
#ifndef ACCEL_LOG_H
#define ACCEL_LOG_H

#include <stdint.h>

#include "accel/accel.h"

typedef struct accel__logger {
    uint32_t stderr_mask; /* from ACCEL_LOADER_DEBUG */
    accel_log_callback callback;
    void *user_data;
    uint32_t callback_mask;
} accel__logger;

/* Parse an ACCEL_LOADER_DEBUG value into a mask. Unknown words are
 * reported once through *bad (the first one), if bad is not NULL. */
uint32_t accel__parse_debug_mask(const char *value, const char **bad, size_t *bad_len);

/* Fill a logger from the environment and the given callback. Warns on
 * stderr about unknown ACCEL_LOADER_DEBUG words. */
void accel__logger_init(accel__logger *lg, accel_log_callback cb, void *user_data, uint32_t cb_mask);

/* Whether anything would be delivered at this level. */
static inline int accel__log_enabled(const accel__logger *lg, accel_log_level level)
{
    return lg && (((lg->stderr_mask | (lg->callback ? lg->callback_mask : 0)) & (uint32_t)level) != 0);
}

void accel__log(const accel__logger *lg, accel_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Deliver an already formatted line. */
void accel__log_line(const accel__logger *lg, accel_log_level level, const char *line);

/* Record the calling thread's last-error detail and return result. */
accel_result accel__error(accel_result result, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
