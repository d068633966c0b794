/* tokenizer.h: text <-> token ids for the vocabularies GGUF files carry.
 *
 * A tok_vocab is built once from a model's metadata (tokenizer.ggml.*) and is
 * immutable afterwards: any number of threads may tokenize and decode with it at
 * the same time. Three algorithms are supported:
 *   - SentencePiece BPE (tokenizer.ggml.model = "llama"): spaces become U+2581,
 *     adjacent pieces merge best-score-first, characters outside the vocabulary
 *     fall back to byte tokens <0xXX>;
 *   - byte-level BPE (model = "gpt2"): a pre-tokenizer regex (chosen by
 *     tokenizer.ggml.pre) splits the text into words, each word's bytes map to
 *     the GPT-2 byte alphabet and merge by rank (tokenizer.ggml.merges);
 *   - WordPiece (model = "bert"): BERT's normaliser (lowercase, accents
 *     stripped), then greedy longest-match pieces.
 * Token types follow llama.cpp's numbering (tok_type). Control tokens written in
 * the text are recognised only when the caller asks (TOK_PARSE_SPECIAL);
 * user-defined tokens are always recognised, as in Hugging Face tokenizers.
 *
 * Decoding goes through a per-request tok_detok, which turns ids into text and
 * hands out only complete UTF-8 characters, however the bytes are split. */
#ifndef INFERD_TOKENIZER_H
#define INFERD_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "gguf/gguf.h"

typedef int32_t tok_id;
#define TOK_NULL ((tok_id)-1)

typedef enum tok_kind {
    TOK_KIND_SPM = 0, /* SentencePiece BPE ("llama") */
    TOK_KIND_BPE = 1, /* byte-level BPE ("gpt2") */
    TOK_KIND_WPM = 2, /* WordPiece ("bert") */
} tok_kind;

/* tokenizer.ggml.token_type values. */
typedef enum tok_type {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6,
} tok_type;

/* Named special tokens; each is TOK_NULL when the vocabulary has none. */
typedef enum tok_special {
    TOK_SPECIAL_BOS = 0,
    TOK_SPECIAL_EOS,
    TOK_SPECIAL_EOT, /* end of turn */
    TOK_SPECIAL_EOM, /* end of message (tool call follows) */
    TOK_SPECIAL_PAD,
    TOK_SPECIAL_UNK,
    TOK_SPECIAL_SEP,
    TOK_SPECIAL_COUNT
} tok_special;

typedef struct tok_vocab tok_vocab;

/* ---- Building a vocabulary ----------------------------------------------- */

/* Everything a vocabulary is made of, as plain arrays (tok_vocab_create copies
 * what it keeps). tok_vocab_load fills one from GGUF metadata; tests and fuzzers
 * fill one by hand. Strings are length-delimited and need no NUL. */
typedef struct tok_vocab_params {
    const char *model;          /* "llama", "gpt2" or "bert" (tokenizer.ggml.model) */
    const char *pre;            /* tokenizer.ggml.pre; NULL or "default" = the model's default */
    const char *arch;           /* general.architecture; NULL allowed (gemma* changes SPM ranks) */
    size_t n_tokens;
    const char *const *tokens;  /* (n_tokens) token texts as stored */
    const size_t *token_lens;   /* (n_tokens) */
    const float *scores;        /* (n_tokens) or NULL: SPM merge priority, higher first */
    const int32_t *types;       /* (n_tokens) tok_type values, or NULL = all normal */
    size_t n_merges;
    const char *const *merges;  /* (n_merges) "left right", rank = index; BPE only */
    const size_t *merge_lens;   /* (n_merges) */
    tok_id special[TOK_SPECIAL_COUNT]; /* TOK_NULL = absent */
    int add_bos;                /* 1 / 0, or -1 = the model's default */
    int add_eos;                /* 1 / 0, or -1 = no */
    int add_space_prefix;       /* 1 / 0, or -1 = the model's default (SPM: yes) */
} tok_vocab_params;

/* Sets every field of p to "absent / default". */
void tok_vocab_params_init(tok_vocab_params *p);

/* Builds a vocabulary. On failure *out is NULL and err says which token, merge
 * or field is wrong. Free with tok_vocab_free. */
int tok_vocab_create(const tok_vocab_params *p, tok_vocab **out, inf_error *err);

/* Builds the vocabulary a GGUF file describes (tokenizer.ggml.* keys). The file
 * may be closed afterwards: nothing points into it. Unsupported models or
 * pre-tokenizers fail with INF_ERR_UNSUPPORTED naming them. */
int tok_vocab_load(const gguf_file *f, tok_vocab **out, inf_error *err);

/* NULL allowed. */
void tok_vocab_free(tok_vocab *v);

/* ---- Looking things up (any thread) --------------------------------------- */

tok_kind tok_vocab_kind(const tok_vocab *v);
int32_t tok_vocab_size(const tok_vocab *v);
const char *tok_vocab_pre(const tok_vocab *v);   /* the pre-tokenizer flavour in use */
tok_id tok_vocab_special(const tok_vocab *v, tok_special which);
bool tok_vocab_add_bos(const tok_vocab *v);
bool tok_vocab_add_eos(const tok_vocab *v);

/* The token's type; TOK_TYPE_UNDEFINED for an id out of range. */
tok_type tok_token_type(const tok_vocab *v, tok_id id);
/* Control, unknown and unused tokens: what TOK_DETOK_SKIP_SPECIAL leaves out. */
bool tok_token_is_special(const tok_vocab *v, tok_id id);
/* End of generation: eos, eot, eom and the tokens real vocabularies use to end a
 * turn (<|im_end|>, <end_of_turn>, <|eot_id|>, <|endoftext|>, ...). */
bool tok_is_eog(const tok_vocab *v, tok_id id);

/* The token's text as stored in the vocabulary (U+2581 for spaces in SPM, the
 * byte alphabet in byte-level BPE). NULL for an id out of range. Not NUL-terminated. */
const char *tok_token_text(const tok_vocab *v, tok_id id, size_t *len);

/* The bytes the token stands for in decoded text (spaces restored, byte tokens
 * as their byte, byte-level BPE mapped back). For control tokens this is their
 * text. NULL for an id out of range. May be incomplete UTF-8. */
const char *tok_token_piece(const tok_vocab *v, tok_id id, size_t *len);

/* The id of the token whose stored text is exactly s[0..n), or TOK_NULL. */
tok_id tok_token_find(const tok_vocab *v, const char *s, size_t n);

/* ---- Tokenizing (any thread) ---------------------------------------------- */

enum {
    TOK_ADD_SPECIAL = 1u << 0,   /* BOS/EOS as the vocabulary's add_bos/add_eos say */
    TOK_PARSE_SPECIAL = 1u << 1, /* control tokens written in the text become tokens */
};

/* A growable array of ids. Zero-initialise, or tok_ids_init. */
typedef struct tok_ids {
    tok_id *ids;
    size_t n, cap;
} tok_ids;

void tok_ids_init(tok_ids *a);
void tok_ids_free(tok_ids *a); /* NULL allowed; leaves a empty and reusable */
/* Appends one id; INF_ERR_NOMEM when the array cannot grow. */
int tok_ids_push(tok_ids *a, tok_id id);

/* Tokenizes text[0..len) and APPENDS the ids to out. The text must be valid
 * UTF-8: otherwise INF_ERR_FORMAT with the byte offset of the first bad byte, and
 * out is left as it was. Thread-safe: v is only read. */
int tok_tokenize(const tok_vocab *v, const char *text, size_t len, unsigned flags, tok_ids *out,
                 inf_error *err);

/* Same into a caller buffer of cap ids. *n_out is the number of ids the text
 * needs; when that exceeds cap, returns INF_ERR_RANGE and buf holds the first cap. */
int tok_tokenize_buf(const tok_vocab *v, const char *text, size_t len, unsigned flags, tok_id *buf,
                     size_t cap, size_t *n_out, inf_error *err);

/* ---- Decoding -------------------------------------------------------------- */

enum {
    TOK_DETOK_SKIP_SPECIAL = 1u << 0, /* control/unknown/unused tokens produce no text */
    TOK_DETOK_STRIP_SPACE = 1u << 1,  /* decoding a text from its start: drop the space
                                       * that SentencePiece put before the first word
                                       * (when the vocabulary adds a space prefix), as
                                       * HF's decoder does. Leave it off for a
                                       * continuation of a prompt, whose first space
                                       * is real. */
};

/* A streaming detokenizer: one per request (one thread at a time). Ids go in,
 * text comes out in complete UTF-8 characters only; bytes of a character split
 * over several tokens are held back until the character is whole. Bytes that
 * can never form a character are replaced by U+FFFD (so the output is always
 * valid UTF-8). */
typedef struct tok_detok tok_detok;

int tok_detok_create(const tok_vocab *v, unsigned flags, tok_detok **out, inf_error *err);
void tok_detok_free(tok_detok *d); /* NULL allowed */
/* Forgets everything fed so far (for reuse on another request). */
void tok_detok_reset(tok_detok *d);

/* Feeds one id. text and len receive the text that became complete (possibly
 * empty); it stays valid until the next call on d. An id out of range is
 * INF_ERR_RANGE and changes nothing. */
int tok_detok_feed(tok_detok *d, tok_id id, const char **text, size_t *len, inf_error *err);

/* Ends the stream: returns the held-back bytes (each unfinished character
 * becomes U+FFFD). The detokenizer is then ready for a new stream. */
void tok_detok_flush(tok_detok *d, const char **text, size_t *len);

/* Whole-sequence decode: a NUL-terminated malloc'd string in *out (free()),
 * length in *out_len (NULL allowed). Same flags as tok_detok_create. */
int tok_decode(const tok_vocab *v, const tok_id *ids, size_t n, unsigned flags, char **out,
               size_t *out_len, inf_error *err);

#endif
