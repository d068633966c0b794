/* fuzz_template.c: libFuzzer target for the chat template engine.
 *
 * Input: template source, optionally followed by a NUL byte and a JSON object
 * used as the render context (a fixed chat context otherwise). Every source is
 * compiled; what compiles is rendered under tight limits, so that loops over
 * range(), recursive macros and string doubling end in an error, not a hang.
 * Checks: no crash or sanitizer report, a failure always carries a message,
 * and a success returns a NUL-terminated buffer of the reported length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

static const char *const DEFAULT_CTX =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"},"
    " {\"role\": \"user\", \"content\": \"hi \\u00e9\"},"
    " {\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"r\","
    "  \"tool_calls\": [{\"id\": \"a\", \"function\": {\"name\": \"f\", \"arguments\": {\"x\": [1, 2.5, null]}}}]},"
    " {\"role\": \"tool\", \"content\": \"ok\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\","
    "  \"properties\": {\"x\": {\"type\": \"array\"}}}}}],"
    " \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"n\": 3}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    size_t src_len = size;
    const uint8_t *nul = memchr(data, 0, size);
    json_t *ctx = NULL;
    if (nul) {
        src_len = (size_t)(nul - data);
        ctx = json_loadb((const char *)nul + 1, size - src_len - 1, 0, NULL);
    }
    if (!json_is_object(ctx)) {
        json_decref(ctx);
        ctx = json_loads(DEFAULT_CTX, 0, NULL);
    }
    tmpl_template *t = NULL;
    inf_error err = {0};
    if (tmpl_compile(src, src_len, &t, &err) != INF_OK) {
        if (t || err.msg[0] == '\0') abort();
        goto out;
    }
    tmpl_render_opts o = {.limits = {.max_output = 1 << 16, .max_memory = 32 << 20, .max_steps = 20000,
                                     .max_depth = 16},
                          .now = 1767225600};
    char *out = NULL;
    size_t len = 0;
    inf_error_clear(&err);
    if (tmpl_render(t, ctx, &o, &out, &len, &err) == INF_OK) {
        if (!out || out[len] != '\0' || len > (size_t)1 << 16) abort();
    } else if (out || err.code == INF_OK) {
        abort();
    }
    free(out);
out:
    tmpl_free(t);
    json_decref(ctx);
    return 0;
}
