/* test_template.c: unit tests of the chat template engine (src/template/).
 *
 * Expected outputs were produced by Python jinja2 in transformers' environment
 * when the cases were written; tests/e2e/test_template_*.py keeps jinja2 as
 * the live oracle. Here: expressions, filters, whitespace control, compile
 * errors that name the construct and its position, runtime errors
 * (raise_exception, undefined), the limits that stop hostile templates,
 * tmpl_chat_render's context, and concurrent renders of one template. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "template/template.h"

/* Renders src with ctx_json (NULL: no variables); returns the text or NULL
 * (then err holds why). The caller frees. */
static char *render(const char *src, const char *ctx_json, const tmpl_render_opts *opts, inf_error *err)
{
    tmpl_template *t = NULL;
    json_t *ctx = NULL;
    char *out = NULL;
    if (tmpl_compile(src, strlen(src), &t, err) != INF_OK) return NULL;
    if (ctx_json) {
        ctx = json_loads(ctx_json, 0, NULL);
        if (!ctx) {
            inf_errorf(err, INF_ERR_INVALID, "bad test JSON");
            goto out;
        }
    }
    tmpl_render(t, ctx, opts, &out, NULL, err);
out:
    json_decref(ctx);
    tmpl_free(t);
    return out;
}

static void expect(const char *src, const char *ctx, const char *want)
{
    inf_error err = {0};
    char *got = render(src, ctx, NULL, &err);
    CHECK_MSG(got && strcmp(got, want) == 0, "template %s\n    want \"%s\"\n    got  \"%s\" (%s)", src, want,
              got ? got : "(null)", got ? "" : err.msg);
    free(got);
}

/* Rendering fails with code and a message containing needle. */
static void expect_fail(const char *src, const char *ctx, int code, const char *needle)
{
    inf_error err = {0};
    char *got = render(src, ctx, NULL, &err);
    CHECK_MSG(!got && err.code == code && strstr(err.msg, needle), "template %s\n    want error %d with \"%s\"\n"
              "    got \"%s\" / %d \"%s\"", src, code, needle, got ? got : "(null)", err.code, err.msg);
    free(got);
}

static void test_expressions(void)
{
    expect("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1 / 4 }}", NULL, "7|3|2|1024|0.25");
    expect("{{ 'a' ~ 1 ~ none }}|{{ [1, 'b', none] }}|{{ {'k': true} }}|{{ (1,) }}", NULL,
           "a1None|[1, 'b', None]|{'k': True}|(1,)");
    expect("{{ x if x else 'no' }}|{{ y is defined }}|{{ y|default('d') }}|{{ 'b' in 'abc' }}", "{\"x\": 0}",
           "no|False|d|True");
    expect("{{ s[::-1] }}|{{ s[1:] }}|{{ l[-1] }}|{{ l|length }}|{{ s|length }}",
           "{\"s\": \"a\\u00f1b\", \"l\": [1, 2, 3]}", "b\xc3\xb1" "a|\xc3\xb1" "b|3|3|3");
    expect("{{ 'a,b'.split(',') }}|{{ 'xhix'.strip('x') }}|{{ 'ab'.startswith('a') }}|{{ '{} {}'.format(1, 'z') }}"
           "|{{ d.get('q', 5) }}", "{\"d\": {}}", "['a', 'b']|hi|True|1 z|5");
    expect("{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 2.0 }}", NULL, "0.30000000000000004 1e+16 1e-05 2.0");
    /* An unknown escape before a non-ASCII character reads as Python's backslashreplace. */
    expect("{{ '\\\xf0\x9f\x98\x80\\\xf0\x9f\x98\x80|\\\xc3\xa9' }}", NULL, "\\U0001f600\\U0001f600|\\xe9");
}

static void test_filters(void)
{
    expect("{{ '  t  '|trim }}|{{ 'x'|upper }}|{{ d|tojson }}|{{ d|tojson(indent=2) }}",
           "{\"d\": {\"b\": 1, \"a\": [\"\\u00e9\", null]}}",
           "t|X|{\"b\": 1, \"a\": [\"\xc3\xa9\", null]}|{\n  \"b\": 1,\n  \"a\": [\n    \"\xc3\xa9\",\n    null\n  ]\n}");
    expect("{{ l|join(',') }}|{{ l|map('string')|map('upper')|list }}|{{ ms|selectattr('r', 'equalto', 'u')|list|length }}"
           "|{{ ms|map(attribute='r')|join }}",
           "{\"l\": [\"a\", \"b\"], \"ms\": [{\"r\": \"u\"}, {\"r\": \"a\"}, {\"r\": \"u\"}]}", "a,b|['A', 'B']|2|uau");
    /* tojson is transformers' json.dumps: no HTML escaping, insertion order. */
    expect("{{ {'z': '<&>', 'a': 1}|tojson }}", NULL, "{\"z\": \"<&>\", \"a\": 1}");
    expect_fail("{{ []|select|length }}", NULL, INF_ERR_INVALID, "has no len()");
}

static void test_whitespace(void)
{
    expect("a\n  {% if true %}\n  b\n  {% endif %}\nc\n", NULL, "a\n  b\nc");
    expect("a  {%- if true -%}  b  {%- endif -%}  c", NULL, "abc");
    expect("{% for x in l %}{{ loop.index }}{{ x }}{{ ',' if not loop.last }}{% endfor %}"
           "{% for x in [] %}{% else %}E{% endfor %}", "{\"l\": [\"p\", \"q\"]}", "1p,2qE");
    expect("{# c #}{% raw %}{{ x }}{% endraw %}", NULL, "{{ x }}");
    expect("a\r\nb\r\n", NULL, "a\nb");
}

static void test_statements(void)
{
    expect("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
           NULL, "6");
    expect("{% macro m(a, b='B') %}<{{ a }}{{ b }}>{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}", NULL, "<1B><23>");
    /* A set inside a loop does not outlive its iteration. */
    expect("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}", NULL, "221");
}

static void test_compile_errors(void)
{
    static const struct {
        const char *src, *needle;
        int code;
    } cases[] = {
        {"{% include 'x.jinja' %}", "line 1:4: unsupported statement 'include'", INF_ERR_UNSUPPORTED},
        {"ok\n  {{ x|wordwrap(10) }}", "line 2:8: unsupported filter 'wordwrap'", INF_ERR_UNSUPPORTED},
        {"{% if x is prime %}{% endif %}", "line 1:12: unsupported test 'prime'", INF_ERR_UNSUPPORTED},
        {"{{ s.expandtabs() }}", "line 1:6: unsupported method 'expandtabs'", INF_ERR_UNSUPPORTED},
        {"{{ lipsum(2) }}", "line 1:4: unsupported function 'lipsum'", INF_ERR_UNSUPPORTED},
        {"{% for x in y recursive %}{% endfor %}", "unsupported recursive for loop", INF_ERR_UNSUPPORTED},
        {"{% if x %}", "expected 'endif'", INF_ERR_FORMAT},
        {"{{ x ", "'{{' without '}}'", INF_ERR_FORMAT},
        {"{% break %}", "'break' outside of a loop", INF_ERR_FORMAT},
        {"{{ 'abc }}", "unterminated string", INF_ERR_FORMAT},
        {"{{ f(*args) }}", "unsupported *args", INF_ERR_UNSUPPORTED},
        {"{{ a ? b }}", "unexpected character", INF_ERR_FORMAT},
        {"\xff{{ x }}", "not valid UTF-8", INF_ERR_FORMAT},
        {"{{ 0.1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
         "12345678901234567890123456789012345678901234567890 }}", "number literal too long", INF_ERR_UNSUPPORTED},
        {"{{ 99999999999999999999 }}", "integer literal too large", INF_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tmpl_template *t = NULL;
        inf_error err = {0};
        int rc = tmpl_compile(cases[i].src, strlen(cases[i].src), &t, &err);
        CHECK_MSG(rc == cases[i].code && !t && strstr(err.msg, cases[i].needle),
                  "compile \"%s\": rc %d, \"%s\" (want %d, \"%s\")", cases[i].src, rc, err.msg, cases[i].code,
                  cases[i].needle);
        tmpl_free(t);
    }
    /* Deep nesting is refused at compile time, not left to the C stack. */
    char src[2100];
    size_t n = 0;
    n += (size_t)snprintf(src, sizeof src, "{{ ");
    for (int i = 0; i < 1000; i++) src[n++] = '(';
    src[n++] = '1';
    for (int i = 0; i < 1000; i++) src[n++] = ')';
    memcpy(src + n, " }}", 4);
    tmpl_template *t = NULL;
    inf_error err = {0};
    CHECK(tmpl_compile(src, strlen(src), &t, &err) == INF_ERR_UNSUPPORTED && strstr(err.msg, "nests deeper"));
    tmpl_free(t);
    tmpl_free(NULL);
}

static void test_runtime_errors(void)
{
    /* raise_exception's message reaches the caller verbatim. */
    inf_error err = {0};
    char *out = render("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}"
                       "{% endif %}", "{\"messages\": [{\"role\": \"system\"}]}", NULL, &err);
    CHECK(!out && err.code == INF_ERR_INVALID);
    CHECK_EQ_STR(err.msg, "System role not supported");
    free(out);
    expect_fail("{{ foo.bar }}", NULL, INF_ERR_INVALID, "'foo' is undefined");
    expect_fail("x\n{{ 'a' + 1 }}", NULL, INF_ERR_INVALID, "line 2:");
    expect_fail("{{ [].append(1) }}", NULL, INF_ERR_INVALID, "SecurityError");
    expect_fail("{{ ctx }}", "[1]", INF_ERR_INVALID, "must be a JSON object");
}

static void test_limits(void)
{
    tmpl_render_opts o = {.limits = {.max_steps = 100000, .max_output = 1 << 16, .max_memory = 16 << 20}};
    inf_error err = {0};
    char *out = render("{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}", NULL, &o, &err);
    CHECK(!out && err.code == INF_ERR_RANGE && strstr(err.msg, "steps"));
    free(out);
    out = render("{% for a in range(100000) %}xxxxxxxxxx{% endfor %}", NULL, &o, &err);
    CHECK(!out && err.code == INF_ERR_RANGE);
    free(out);
    out = render("{{ 'x' * 100000000 }}", NULL, &o, &err);
    CHECK(!out && err.code == INF_ERR_RANGE);
    free(out);
    out = render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, &o, &err);
    CHECK(!out && err.code == INF_ERR_RANGE && strstr(err.msg, "nest deeper"));
    free(out);
    out = render("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                 NULL, &o, &err);
    CHECK(!out && (err.code == INF_ERR_RANGE || err.code == INF_ERR_NOMEM));
    free(out);
}

static void test_chat(void)
{
    tmpl_template *t = NULL;
    inf_error err = {0};
    const char *src = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}"
                      "{% if m.thinking is defined %}[{{ m.thinking }}|{{ m.reasoning_content }}]{% endif %}"
                      "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
                      "{{ tools is none }}{{ documents is none }}{{ enable_thinking }}";
    CHECK(tmpl_compile(src, strlen(src), &t, &err) == INF_OK);
    json_t *msgs = json_loads("[{\"role\": \"user\", \"content\": \"hi\"},"
                              " {\"role\": \"assistant\", \"content\": \"yo\", \"reasoning\": \"think\"}]", 0, NULL);
    json_t *extra = json_loads("{\"enable_thinking\": false}", 0, NULL);
    tmpl_chat_opts o = {.add_generation_prompt = true, .bos_token = "<s>", .extra = extra};
    char *out = NULL;
    CHECK(tmpl_chat_render(t, msgs, &o, &out, NULL, &err) == INF_OK);
    CHECK_EQ_STR(out, "<s><user>hi<assistant>yo[think|think]<assistant>TrueTrueFalse");
    free(out);
    out = NULL;
    json_t *bad = json_loads("[1]", 0, NULL);
    CHECK(tmpl_chat_render(t, bad, &o, &out, NULL, &err) == INF_ERR_INVALID && !out);
    json_decref(bad);
    json_decref(extra);
    json_decref(msgs);
    tmpl_free(t);
}

/* One compiled template, many threads: every render must give the same bytes. */
typedef struct {
    const tmpl_template *t;
    const json_t *msgs;
    const char *want;
    int bad;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    tmpl_chat_opts o = {.add_generation_prompt = true};
    for (int i = 0; i < 300; i++) {
        char *out = NULL;
        inf_error err;
        if (tmpl_chat_render(w->t, w->msgs, &o, &out, NULL, &err) != INF_OK || strcmp(out, w->want) != 0) w->bad++;
        free(out);
    }
    return NULL;
}

static void test_threads(void)
{
    const char *src = "{%- set ns = namespace(n=0) %}{%- for m in messages %}{%- set ns.n = ns.n + 1 %}"
                      "<|{{ m.role }}|>{{ m.content|trim }}{{ loop.index }}\n{%- endfor %}{{ ns.n }}"
                      "{%- if add_generation_prompt %}<|assistant|>{% endif %}";
    tmpl_template *t = NULL;
    inf_error err = {0};
    CHECK(tmpl_compile(src, strlen(src), &t, &err) == INF_OK);
    json_t *msgs = json_loads("[{\"role\": \"user\", \"content\": \" a \"}, {\"role\": \"assistant\", \"content\": \"b\"}]",
                              0, NULL);
    worker w[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){.t = t, .msgs = msgs, .want = "<|user|>a1<|assistant|>b22<|assistant|>"};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
    }
    CHECK_EQ_INT(bad, 0);
    json_decref(msgs);
    tmpl_free(t);
}

/* Every real template of the test data compiles (needs ../shared/testdata). */
static int test_testdata_templates(void)
{
    char path[2048];
    if (!check_testdata("templates/Qwen-Qwen3-0.6B.jinja", path, sizeof path)) return 0;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/templates", getenv("INFERD_TESTDATA"));
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".jinja")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tmpl_template *t = NULL;
        inf_error err = {0};
        int rc = tmpl_compile_file(path, &t, &err);
        CHECK_MSG(rc == INF_OK, "%s: %s", e->d_name, err.msg);
        tmpl_free(t);
        n++;
    }
    if (d) closedir(d);
    CHECK(n >= 16);
    return n;
}

int main(void)
{
    test_expressions();
    test_filters();
    test_whitespace();
    test_statements();
    test_compile_errors();
    test_runtime_errors();
    test_limits();
    test_chat();
    test_threads();
    if (test_testdata_templates() == 0) printf("note: ../shared/testdata absent, real templates not compiled\n");
    return check_done();
}
