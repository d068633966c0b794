/* error.c: filling inf_error values; see error.h for the contract. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int inf_errorf(inf_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void inf_error_prefix(inf_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[INF_ERROR_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[INF_ERROR_MSG_CAP];
    memcpy(old, err->msg, sizeof old);
    /* Two steps (prefix, then the old text) so truncation is explicit. */
    size_t k = strlen(prefix);
    if (k > sizeof err->msg - 3) k = sizeof err->msg - 3;
    memcpy(err->msg, prefix, k);
    memcpy(err->msg + k, ": ", 2);
    size_t room = sizeof err->msg - k - 3;
    size_t n = strlen(old);
    if (n > room) n = room;
    memcpy(err->msg + k + 2, old, n);
    err->msg[k + 2 + n] = '\0';
}

void inf_error_clear(inf_error *err)
{
    if (!err) return;
    err->code = INF_OK;
    err->msg[0] = '\0';
}

const char *inf_status_name(int code)
{
    switch (code) {
    case INF_OK: return "ok";
    case INF_ERR_IO: return "I/O error";
    case INF_ERR_FORMAT: return "format error";
    case INF_ERR_UNSUPPORTED: return "unsupported";
    case INF_ERR_NOMEM: return "out of memory";
    case INF_ERR_INVALID: return "invalid argument";
    case INF_ERR_RANGE: return "out of range";
    case INF_ERR_NOT_FOUND: return "not found";
    case INF_ERR_CANCELLED: return "cancelled";
    case INF_ERR_BUSY: return "busy";
    case INF_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

void inf_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "inferd: assertion failed at %s:%d: %s\n", file, line, what);
    abort();
}
