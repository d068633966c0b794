/* test_prompts.c: the default prompt set, prompt files (JSON lines, plain
 * lines, errors with line numbers) and the deterministic system prompt. */
#include <stdlib.h>
#include <string.h>

#include "bench/prompts.h"
#include "check.h"

static const char *user_text(const bench_prompt *p)
{
    json_t *m = json_array_get(p->messages, json_array_size(p->messages) - 1);
    return json_string_value(json_object_get(m, "content"));
}

static void test_default(void)
{
    bench_prompts p;
    inf_error e;
    CHECK(bench_prompts_default(&p, &e) == 0);
    CHECK_EQ_INT(p.n, 10);
    CHECK_EQ_STR(user_text(&p.items[0]), "What is the capital of France?");
    CHECK_EQ_STR(user_text(&p.items[3]), "한국의 수도는 어디이며 인구는 얼마나 되나요?");
    CHECK_EQ_STR(user_text(&p.items[7]), "다음 문장을 영어로 번역하세요: 오늘은 날씨가 정말 좋아서 "
                                         "공원에 산책하러 갔습니다.");
    CHECK_EQ_STR(user_text(&p.items[8]), user_text(&p.items[0]));
    CHECK_EQ_STR(user_text(&p.items[9]), user_text(&p.items[1]));
    CHECK_EQ_STR(p.items[8].label, "France capital (prefix hit)");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(p.items[0].messages, 0), "role")),
                 "user");
    bench_prompts_free(&p);
    bench_prompts_free(&p);
    bench_prompts_free(NULL);
}

static void test_file(void)
{
    const char *text =
        "\xEF\xBB\xBF{\"prompt\": \"Hello there\"}\r\n"
        "\n"
        "   plain   text   line   \n"
        "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, "
        "{\"role\": \"user\", \"content\": \"Why is the sky blue?\"}], \"label\": \"sky | blue\"}\n"
        "a very long plain prompt that goes on well past the label length limit\n"
        "한국어 문장이 아주 길어서 라벨 길이 제한을 넘는 경우입니다";
    bench_prompts p;
    inf_error e;
    CHECK(bench_prompts_parse(text, strlen(text), &p, &e) == 0);
    CHECK_EQ_INT(p.n, 5);
    if (p.n == 5) {
        CHECK_EQ_STR(p.items[0].label, "Hello there");
        CHECK_EQ_STR(user_text(&p.items[1]), "plain   text   line");
        CHECK_EQ_STR(p.items[1].label, "plain text line");
        CHECK_EQ_INT(json_array_size(p.items[2].messages), 2);
        CHECK_EQ_STR(p.items[2].label, "sky | blue");
        CHECK_EQ_STR(p.items[3].label, "a very long plain prompt that...");
        /* Cut after a whole word (never inside a code point). */
        CHECK_EQ_STR(p.items[4].label, "한국어 문장이 아주...");
    }
    bench_prompts_free(&p);
}

static void test_file_errors(void)
{
    struct { const char *text; const char *msg; } cases[] = {
        {"ok\n{\"prompt\": 5}\n", "line 2: \"prompt\" is not a string"},
        {"ok\nok\n{bad json\n", "line 3: invalid JSON"},
        {"{\"text\": \"x\"}", "line 1: expected an object with \"prompt\" or \"messages\""},
        {"{\"messages\": []}", "line 1: \"messages\" must be a non-empty array"},
        {"{\"messages\": [{\"role\": \"user\"}]}", "messages[0] needs a string \"role\""},
        {"{\"prompt\": \"x\", \"label\": 3}", "\"label\" is not a string"},
        {"fine\n\xC3\x28\n", "line 2: not valid UTF-8"},
        {"\n  \n\r\n", "holds no prompt"},
        {"", "holds no prompt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bench_prompts p;
        inf_error e = {0};
        int rc = bench_prompts_parse(cases[i].text, strlen(cases[i].text), &p, &e);
        CHECK_MSG(rc != 0 && strstr(e.msg, cases[i].msg), "case %zu: rc %d, \"%s\"", i, rc, e.msg);
        CHECK(p.n == 0 && p.items == NULL);
    }
    bench_prompts p;
    inf_error e;
    CHECK_EQ_INT(bench_prompts_load("/nonexistent/prompts.txt", &p, &e), INF_ERR_IO);
}

static void test_system_prompt(void)
{
    char *a = bench_system_prompt(1000, "[tag]");
    char *b = bench_system_prompt(1000, "[tag]");
    char *c = bench_system_prompt(1000, NULL);
    CHECK(a && b && c);
    if (!a || !b || !c) goto out;
    CHECK_EQ_STR(a, b); /* deterministic */
    CHECK(!strncmp(a, "[tag]\n", 6));
    CHECK_EQ_STR(a + 6, c);
    /* About one word per token: 1,000 tokens is some 4,000-8,000 bytes. */
    size_t n = strlen(c), words = 1;
    for (size_t i = 0; i < n; i++) words += c[i] == ' ';
    CHECK_MSG(words > 800 && words < 1100, "%zu words", words);
    CHECK_MSG(n > 4000 && n < 8000, "%zu bytes", n);
    char *small = bench_system_prompt(0, NULL);
    CHECK(small && strlen(small) < 200);
    free(small);
out:
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    test_default();
    test_file();
    test_file_errors();
    test_system_prompt();
    return check_done();
}
