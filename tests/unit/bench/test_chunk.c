/* test_chunk.c: reading streamed chat chunks: content, role-only and usage
 * chunks, [DONE], in-stream errors, and malformed input that must not crash. */
#include <string.h>

#include "bench/chunk.h"
#include "check.h"

static int parse(const char *s, bench_chunk *c)
{
    inf_error e;
    return bench_chunk_parse(s, strlen(s), c, &e);
}

static void test_good(void)
{
    bench_chunk c;
    CHECK(parse("[DONE]", &c) == 0 && c.done);
    CHECK(parse(" [DONE] ", &c) == 0 && c.done);
    CHECK(parse("{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}", &c) == 0);
    CHECK(!c.done && c.content_len == 0 && !c.has_usage);
    CHECK(parse("{\"choices\":[{\"delta\":{\"content\":\"한국\"},\"finish_reason\":null}]}", &c) == 0);
    CHECK_EQ_INT(c.content_len, 6);
    CHECK_EQ_STR(c.finish_reason, "");
    CHECK(parse("{\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}", &c) == 0);
    CHECK_EQ_STR(c.finish_reason, "length");
    CHECK(!c.has_usage);
    CHECK(parse("{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":256}}", &c) == 0);
    CHECK(c.has_usage);
    CHECK_EQ_INT(c.prompt_tokens, 12);
    CHECK_EQ_INT(c.completion_tokens, 256);
    /* Reasoning models stream their first tokens as reasoning_content. */
    CHECK(parse("{\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\",\"content\":null}}]}", &c) == 0);
    CHECK_EQ_INT(c.content_len, 2);
    /* Completion-style chunks. */
    CHECK(parse("{\"choices\":[{\"text\":\"abc\"}]}", &c) == 0);
    CHECK_EQ_INT(c.content_len, 3);
    CHECK(parse("{\"error\":{\"message\":\"out of KV blocks\",\"type\":\"x\"}}", &c) == 0);
    CHECK(c.has_error);
    CHECK_EQ_STR(c.error, "out of KV blocks");
    CHECK(parse("{\"error\":\"plain\"}", &c) == 0 && c.has_error);
    CHECK_EQ_STR(c.error, "plain");
}

static void test_bad(void)
{
    bench_chunk c;
    inf_error e;
    const char *bad[] = {
        "", "{", "{\"choices\":[{\"delta\":{\"content\":\"w1 \"", "[1,2]", "null", "DONE",
        "{\"choices\":{}}", "{\"choices\":[1]}", "{\"choices\":[{\"delta\":7}]}",
        "{\"choices\":[{\"delta\":{\"content\":5}}]}", "{\"usage\":[]}",
        "{\"usage\":{\"completion_tokens\":\"9\"}}", "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bench_chunk_parse(bad[i], strlen(bad[i]), &c, &e);
        CHECK_MSG(rc == INF_ERR_FORMAT, "\"%s\" gave %d", bad[i], rc);
    }
    /* Only len bytes are read: a valid prefix of a longer buffer parses. */
    const char *s = "[DONE]garbage";
    CHECK(bench_chunk_parse(s, 6, &c, &e) == 0 && c.done);
    CHECK(parse("{\"choices\":[{\"delta\":{\"content\":\"x\"}}]} trailing", &c) == INF_ERR_FORMAT);
}

int main(void)
{
    test_good();
    test_bad();
    return check_done();
}
