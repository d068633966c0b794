/* check.h: the tiny assertion kit of the C unit tests.
 *
 * CHECK(cond) records a failure with file:line and keeps going, so one run shows
 * every broken case; check_done() prints "N passed, N failed" and returns the exit
 * code (0 ok, 1 failures). check_skip() exits 77, which ctest reports as skipped.
 * Single-threaded by design: tests that spawn threads check results after joining. */
#ifndef INFERD_TESTS_CHECK_H
#define INFERD_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed_, check_failed_;

#define CHECK(cond) check_record_((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_MSG(cond, ...) \
    do { if (!check_record_((cond) != 0, #cond, __FILE__, __LINE__)) { \
        fprintf(stderr, "    "); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)
#define CHECK_EQ_INT(a, b) \
    do { long long a_ = (long long)(a), b_ = (long long)(b); \
         CHECK_MSG(a_ == b_, "%s = %lld, %s = %lld", #a, a_, #b, b_); } while (0)
#define CHECK_EQ_STR(a, b) \
    do { const char *a_ = (a), *b_ = (b); \
         CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "%s = \"%s\", %s = \"%s\"", \
                   #a, a_ ? a_ : "(null)", #b, b_ ? b_ : "(null)"); } while (0)

static inline int check_record_(int ok, const char *what, const char *file, int line)
{
    if (ok) {
        check_passed_++;
    } else {
        check_failed_++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
    return ok;
}

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

static inline void check_skip(const char *why)
{
    printf("SKIP: %s\n", why);
    exit(77);
}

/* Path of ../shared/testdata/<rel>, or NULL when the folder is absent. */
static inline const char *check_testdata(const char *rel, char *buf, size_t cap)
{
    const char *root = getenv("INFERD_TESTDATA");
    if (!root || !*root) return NULL;
    snprintf(buf, cap, "%s/%s", root, rel);
    FILE *f = fopen(buf, "rb");
    if (!f) return NULL;
    fclose(f);
    return buf;
}

#endif
