/* log.h: leveled logging to stderr, thread-safe (one fprintf per line).
 * The level is process configuration set once by main (inf_log_set_level);
 * reading it from other threads is safe. */
#ifndef INFERD_CORE_LOG_H
#define INFERD_CORE_LOG_H

typedef enum inf_log_level {
    INF_LOG_DEBUG = 0,
    INF_LOG_INFO = 1,
    INF_LOG_WARN = 2,
    INF_LOG_ERROR = 3,
    INF_LOG_OFF = 4,
} inf_log_level;

void inf_log_set_level(inf_log_level level);
inf_log_level inf_log_get_level(void);
void inf_log(inf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define INF_DEBUG(...) inf_log(INF_LOG_DEBUG, __VA_ARGS__)
#define INF_INFO(...) inf_log(INF_LOG_INFO, __VA_ARGS__)
#define INF_WARN(...) inf_log(INF_LOG_WARN, __VA_ARGS__)
#define INF_ERROR(...) inf_log(INF_LOG_ERROR, __VA_ARGS__)

#endif
