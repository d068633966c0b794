/* vocab_synth.h: the small byte-level BPE vocabulary of synthetic models.
 *
 * Layout of the ids (the same for every seed, so that synthetic models of one
 * vocabulary size can draft for each other):
 *   0 <|endoftext|>  1 <|im_start|>  2 <|im_end|>        control tokens
 *   3 .. 258         the 256 bytes, in GPT-2's byte-to-unicode spelling
 *   259 ..           tokens of BPE merges learnt from a short English text
 *                    embedded in vocab_synth.c (a few hundred)
 *   ..  n_vocab-1    filler words (two merged tokens glued together) that no
 *                    merge produces, so that large presets have their real
 *                    vocabulary size; they detokenize to visible text
 * The metadata is what llama.cpp's converter writes for a gpt2-type vocabulary:
 * tokenizer.ggml.model "gpt2", .pre, .tokens, .token_type, .merges,
 * .bos_token_id (0), .eos_token_id (2), .padding_token_id (0), .add_bos_token
 * (false) and a ChatML tokenizer.chat_template. */
#ifndef INFERD_MODEL_VOCAB_SYNTH_H
#define INFERD_MODEL_VOCAB_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "gguf/gguf.h"

#define VOCAB_SYNTH_ENDOFTEXT 0
#define VOCAB_SYNTH_IM_START 1
#define VOCAB_SYNTH_IM_END 2
#define VOCAB_SYNTH_FIRST_BYTE 3
#define VOCAB_SYNTH_MIN 259          /* specials + bytes */
#define VOCAB_SYNTH_MAX (1u << 22)

/* ggml token types as GGUF stores them (tokenizer.ggml.token_type). */
#define VOCAB_SYNTH_TYPE_NORMAL 1
#define VOCAB_SYNTH_TYPE_CONTROL 3

typedef struct vocab_synth vocab_synth;

/* Builds the vocabulary of n_vocab tokens (VOCAB_SYNTH_MIN..VOCAB_SYNTH_MAX).
 * Deterministic: depends on n_vocab only. Free with vocab_synth_free. */
int vocab_synth_build(uint32_t n_vocab, vocab_synth **out, inf_error *err);

/* NULL allowed. */
void vocab_synth_free(vocab_synth *v);

uint32_t vocab_synth_size(const vocab_synth *v);
/* Token text in GGUF spelling (GPT-2 byte-to-unicode, UTF-8), not NUL-terminated. */
const char *vocab_synth_token(const vocab_synth *v, uint32_t id, size_t *len);
int32_t vocab_synth_token_type(const vocab_synth *v, uint32_t id);
uint32_t vocab_synth_merge_count(const vocab_synth *v);
/* Merge i as "left right" (NUL-terminated). */
const char *vocab_synth_merge(const vocab_synth *v, uint32_t i);

/* The ChatML template stored in tokenizer.chat_template (NUL-terminated). */
const char *vocab_synth_chat_template(void);

/* Writes the tokenizer.* keys. pre is the tokenizer.ggml.pre value ("smollm",
 * "gpt-2"). Returns the writer's status. */
int vocab_synth_write(const vocab_synth *v, gguf_writer *w, const char *pre);

#endif
