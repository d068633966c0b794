/* log.c: see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic int log_level = INF_LOG_INFO;

void inf_log_set_level(inf_log_level level) { atomic_store(&log_level, (int)level); }
inf_log_level inf_log_get_level(void) { return (inf_log_level)atomic_load(&log_level); }

void inf_log(inf_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level)) return;
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "inferd %s: %s\n", names[level <= INF_LOG_ERROR ? level : INF_LOG_ERROR], line);
}
