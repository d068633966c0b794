/* test_error.c: inf_error formatting, prefixing and truncation. */
#include "check.h"
#include "core/error.h"

int main(void)
{
    inf_error err;
    inf_error_clear(&err);
    CHECK_EQ_INT(err.code, INF_OK);
    CHECK_EQ_STR(err.msg, "");

    int rc = inf_errorf(&err, INF_ERR_FORMAT, "tensor %s: offset %d", "blk.0.attn_q.weight", 9123);
    CHECK_EQ_INT(rc, INF_ERR_FORMAT);
    CHECK_EQ_INT(err.code, INF_ERR_FORMAT);
    CHECK_EQ_STR(err.msg, "tensor blk.0.attn_q.weight: offset 9123");

    inf_error_prefix(&err, "%s", "model.gguf");
    CHECK_EQ_STR(err.msg, "model.gguf: tensor blk.0.attn_q.weight: offset 9123");

    /* A NULL error is allowed everywhere and the status still comes back. */
    CHECK_EQ_INT(inf_errorf(NULL, INF_ERR_IO, "x"), INF_ERR_IO);

    /* Over-long messages are truncated, never overflow. */
    char big[2 * INF_ERROR_MSG_CAP];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    inf_errorf(&err, INF_ERR_RANGE, "%s", big);
    CHECK_EQ_INT(strlen(err.msg), INF_ERROR_MSG_CAP - 1);

    CHECK_EQ_STR(inf_status_name(INF_ERR_UNSUPPORTED), "unsupported");
    return check_done();
}
