/* error.h: status codes and the error value every fallible function fills.
 *
 * Contract (STYLE.md): a function that can fail on input returns an int status
 * (INF_OK = 0, a negative inf_status otherwise) and, when the caller passes a
 * non-NULL inf_error, writes a message a user can act on: which field, which
 * offset, which limit. Bad input never aborts; INF_ASSERT is for programmer
 * errors only and stays on in release builds. */
#ifndef INFERD_CORE_ERROR_H
#define INFERD_CORE_ERROR_H

#include <stddef.h>

typedef enum inf_status {
    INF_OK = 0,
    INF_ERR_IO = -1,          /* open/read/write/mmap failed */
    INF_ERR_FORMAT = -2,      /* malformed input (file, JSON, UTF-8, ...) */
    INF_ERR_UNSUPPORTED = -3, /* well-formed but not handled (version, type id, arch) */
    INF_ERR_NOMEM = -4,       /* allocation failed or a budget is exhausted */
    INF_ERR_INVALID = -5,     /* invalid argument or parameter value */
    INF_ERR_RANGE = -6,       /* value or size outside its allowed range */
    INF_ERR_NOT_FOUND = -7,   /* key, tensor, token, route, ... absent */
    INF_ERR_CANCELLED = -8,   /* the operation was cancelled */
    INF_ERR_BUSY = -9,        /* a queue or pool is full; try later */
    INF_ERR_INTERNAL = -10,   /* a bug or an impossible state */
} inf_status;

#define INF_ERROR_MSG_CAP 512

typedef struct inf_error {
    int code;                     /* the inf_status last set */
    char msg[INF_ERROR_MSG_CAP];  /* NUL-terminated, human readable */
} inf_error;

/* Sets err (when non-NULL) to code and a printf-style message; returns code so
 * that callers can write `return inf_errorf(err, INF_ERR_FORMAT, "...")`. */
int inf_errorf(inf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to the message already in err (context from an outer layer). */
void inf_error_prefix(inf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err to INF_OK and an empty message. NULL allowed. */
void inf_error_clear(inf_error *err);

/* A short constant name for a status ("format error", ...). */
const char *inf_status_name(int code);

/* Aborts with file:line and the message when cond is false. Never for bad input. */
#define INF_ASSERT(cond) \
    do { if (!(cond)) inf_assert_fail(#cond, __FILE__, __LINE__); } while (0)
void inf_assert_fail(const char *what, const char *file, int line) __attribute__((noreturn));

#endif
