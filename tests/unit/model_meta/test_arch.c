/* test_arch.c: architecture names, traits and tensor names (model/arch.h). */
#include <string.h>

#include "check.h"
#include "model/arch.h"

static void test_names(void)
{
    const char *names[] = {"llama", "qwen2", "qwen3", "gemma3", "qwen3moe", "deepseek2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        arch_id a = arch_from_name(names[i], strlen(names[i]));
        CHECK(a != ARCH_UNKNOWN);
        CHECK_EQ_STR(arch_name(a), names[i]);
    }
    /* length-delimited: a prefix or an extension is not the same name */
    CHECK_EQ_INT(arch_from_name("llama", 4), ARCH_UNKNOWN);
    CHECK_EQ_INT(arch_from_name("qwen3x", 6), ARCH_UNKNOWN);
    CHECK_EQ_INT(arch_from_name("gpt2", 4), ARCH_UNKNOWN);
    CHECK_EQ_INT(arch_from_name(NULL, 0), ARCH_UNKNOWN);
    CHECK_EQ_STR(arch_name((arch_id)999), "unknown");
    CHECK(!arch_traits_of(ARCH_UNKNOWN)->supported);
    CHECK(!arch_traits_of(ARCH_QWEN3MOE)->supported);
    CHECK(arch_traits_of(ARCH_GEMMA3)->supported);
}

static void test_traits(void)
{
    CHECK_EQ_INT(arch_traits_of(ARCH_LLAMA)->rope, ARCH_ROPE_NORM);
    CHECK_EQ_INT(arch_traits_of(ARCH_QWEN2)->rope, ARCH_ROPE_NEOX);
    CHECK_EQ_INT(arch_traits_of(ARCH_QWEN3)->rope, ARCH_ROPE_NEOX);
    CHECK_EQ_INT(arch_traits_of(ARCH_GEMMA3)->rope, ARCH_ROPE_NEOX);
    CHECK_EQ_INT(arch_traits_of(ARCH_GEMMA3)->act, ARCH_ACT_GELU);
    CHECK_EQ_INT(arch_traits_of(ARCH_LLAMA)->act, ARCH_ACT_SILU);
}

static void test_tensor_names(void)
{
    char buf[64];
    CHECK_EQ_INT(arch_tensor_name(ARCH_T_TOKEN_EMBD, 7, buf, sizeof buf), 17);
    CHECK_EQ_STR(buf, "token_embd.weight");
    arch_tensor_name(ARCH_T_ATTN_Q_BIAS, 3, buf, sizeof buf);
    CHECK_EQ_STR(buf, "blk.3.attn_q.bias");
    arch_tensor_name(ARCH_T_ATTN_OUT, 29, buf, sizeof buf);
    CHECK_EQ_STR(buf, "blk.29.attn_output.weight");
    arch_tensor_name(ARCH_T_ATTN_POST_NORM, 0, buf, sizeof buf);
    CHECK_EQ_STR(buf, "blk.0.post_attention_norm.weight");
    arch_tensor_name(ARCH_T_FFN_POST_NORM, 0, buf, sizeof buf);
    CHECK_EQ_STR(buf, "blk.0.post_ffw_norm.weight");
    arch_tensor_name(ARCH_T_ATTN_K_NORM, 1, buf, sizeof buf);
    CHECK_EQ_STR(buf, "blk.1.attn_k_norm.weight");
    arch_tensor_name(ARCH_T_ROPE_FREQS, 1, buf, sizeof buf);
    CHECK_EQ_STR(buf, "rope_freqs.weight");
    /* truncation is reported, never overflows */
    char small[8];
    CHECK(arch_tensor_name(ARCH_T_FFN_DOWN, 12, small, sizeof small) >= (int)sizeof small);
    CHECK_EQ_INT(strlen(small), sizeof small - 1);
    CHECK_EQ_INT(arch_tensor_name(ARCH_T_COUNT, 0, buf, sizeof buf), -1);
    CHECK(arch_tensor_is_vector(ARCH_T_ATTN_NORM));
    CHECK(arch_tensor_is_vector(ARCH_T_ATTN_V_BIAS));
    CHECK(!arch_tensor_is_vector(ARCH_T_FFN_UP));
    CHECK_EQ_STR(arch_tensor_base(ARCH_T_ATTN_V_BIAS), "attn_v");
}

static void test_presence(void)
{
    CHECK_EQ_INT(arch_tensor_presence(ARCH_QWEN2, ARCH_T_ATTN_Q_BIAS), ARCH_REQUIRED);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_LLAMA, ARCH_T_ATTN_Q_BIAS), ARCH_OPTIONAL);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_QWEN3, ARCH_T_ATTN_Q_BIAS), ARCH_ABSENT);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_QWEN3, ARCH_T_ATTN_Q_NORM), ARCH_REQUIRED);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_LLAMA, ARCH_T_ATTN_Q_NORM), ARCH_ABSENT);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_GEMMA3, ARCH_T_ATTN_POST_NORM), ARCH_REQUIRED);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_GEMMA3, ARCH_T_FFN_POST_NORM), ARCH_REQUIRED);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_QWEN3, ARCH_T_FFN_POST_NORM), ARCH_ABSENT);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_LLAMA, ARCH_T_OUTPUT), ARCH_OPTIONAL);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_LLAMA, ARCH_T_ROPE_FREQS), ARCH_OPTIONAL);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_GEMMA3, ARCH_T_ROPE_FREQS), ARCH_ABSENT);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_GEMMA3, ARCH_T_FFN_GATE), ARCH_REQUIRED);
    CHECK_EQ_INT(arch_tensor_presence(ARCH_LLAMA, ARCH_T_COUNT), ARCH_ABSENT);
}

int main(void)
{
    test_names();
    test_traits();
    test_tensor_names();
    test_presence();
    return check_done();
}
