/* tok_internal.h: the inside of a tok_vocab, shared by the files of tokenizer/.
 *
 * Both algorithms run the same merge loop over token ids: a pair (left, right)
 * that may merge is looked up in a hash table giving its rank (lower merges
 * first) and the merged id. For byte-level BPE the pairs and ranks are the file's
 * merges; for SentencePiece they are derived from the vocabulary at load time
 * (every split of a token into two tokens, ranked by the token's score), which
 * is the same ranking Hugging Face builds for these files. */
#ifndef INFERD_TOKENIZER_INTERNAL_H
#define INFERD_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"

/* ---- Hash tables (open addressing, power-of-two capacity) ------------------ */

/* Token text -> id. Slots hold ids; texts are compared in the vocab's pool. */
typedef struct tok_strmap {
    int32_t *slots; /* (cap) id or -1 */
    uint32_t *hash; /* (cap) full hash of the slot's text, to skip most compares */
    size_t cap;     /* power of two */
} tok_strmap;

/* (left id, right id) -> (rank, merged id). */
typedef struct tok_pair {
    uint64_t key;   /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank;
    tok_id merged;
} tok_pair;

typedef struct tok_pairmap {
    tok_pair *slots; /* (cap) */
    size_t cap;      /* power of two */
    size_t n;
} tok_pairmap;

uint32_t tok_hash_bytes(const char *s, size_t n);

/* ---- Pre-tokenizer (byte-level BPE) ---------------------------------------- */

typedef struct tok_pretok tok_pretok;

/* Compiles the regexes of a flavour ("gpt-2", "llama3", "qwen2", ...). NULL or
 * "default" picks gpt-2. Unknown names fail with INF_ERR_UNSUPPORTED. */
int tok_pretok_create(const char *flavour, tok_pretok **out, inf_error *err);
void tok_pretok_free(tok_pretok *p);
const char *tok_pretok_name(const tok_pretok *p);
bool tok_pretok_ignore_merges(const tok_pretok *p);

/* A list of [start, end) byte ranges into the text being split; reused across
 * calls (grows, never shrinks). */
typedef struct tok_spans {
    uint32_t *start, *end;
    size_t n, cap;
} tok_spans;

void tok_spans_free(tok_spans *s);

/* Splits text[0..len) (valid UTF-8) into words: each regex of the flavour is
 * applied in turn to every piece the previous one left, keeping both matches and
 * the text between them (Hugging Face's "isolated" split). Uses the two span
 * lists as scratch; the result is in *out (one of a or b). */
int tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_spans *a,
                     tok_spans *b, tok_spans **out, inf_error *err);

/* ---- The vocabulary --------------------------------------------------------- */

/* Tokens the text may contain verbatim (tok_vocab.verb_kind). */
enum { TOK_VERB_NONE = 0, TOK_VERB_USER = 1, TOK_VERB_CONTROL = 2 };

struct tok_vocab {
    tok_kind kind;
    int32_t n;                 /* tokens */
    char *pool;                /* texts then pieces, back to back */
    uint32_t *text_off, *text_len;   /* (n) stored text */
    uint32_t *piece_off, *piece_len; /* (n) decoded bytes */
    uint8_t *type;             /* (n) tok_type */
    uint8_t *eog;              /* (n) 1 = ends generation */
    tok_strmap map;            /* stored text -> id */
    tok_pairmap pairs;         /* mergeable pairs */
    tok_id byte_tok[256];      /* BPE: the token of each byte's alphabet char;
                                * SPM: <0xXX> byte-fallback tokens; TOK_NULL if absent */
    tok_pretok *pretok;        /* BPE only */
    bool ignore_merges;        /* BPE: a word that is a token is taken whole (Llama 3) */

    /* Tokens matched verbatim in the text: user-defined ones always, control and
     * unknown ones with TOK_PARSE_SPECIAL. For the leftmost-longest match, the
     * distinct lengths of such tokens are listed per first byte, longest first,
     * so a position costs one hash look-up per distinct length. */
    uint8_t *verb_kind;        /* (n) TOK_VERB_* */
    uint32_t *verb_lens;       /* lengths; those of first byte b are */
    uint32_t verb_first[257];  /* verb_lens[verb_first[b] .. verb_first[b+1]) */

    tok_id special[TOK_SPECIAL_COUNT];
    bool add_bos, add_eos, add_space_prefix;
    char pre[48];
};

static inline const char *tok_text_(const tok_vocab *v, tok_id id)
{
    return v->pool + v->text_off[id];
}

/* Strmap look-up over the vocab's texts. */
tok_id tok_strmap_find(const tok_vocab *v, const char *s, size_t n);

/* Pair look-up; NULL when the pair never merges. */
const tok_pair *tok_pairmap_find(const tok_pairmap *m, tok_id left, tok_id right);

/* ---- Merging ------------------------------------------------------------------ */

/* Scratch for one tokenize call (per thread, per call). */
typedef struct tok_scratch {
    tok_id *sym;      /* (cap) current id of each symbol, TOK_NULL if none */
    uint32_t *len;    /* (cap) bytes of the symbol, 0 = merged away */
    int32_t *prev, *next;
    struct tok_heap_entry *heap;
    size_t cap, heap_cap;
    char *buf;        /* normalised text (SPM) */
    size_t buf_cap;
    tok_spans sp_a, sp_b;
} tok_scratch;

void tok_scratch_free(tok_scratch *s);

/* Byte-level BPE of one pre-tokenized word; appends ids to out. */
int tok_bpe_word(const tok_vocab *v, tok_scratch *s, const char *w, size_t n, tok_ids *out);

/* SentencePiece of one normalised fragment (spaces already U+2581); appends ids. */
int tok_spm_fragment(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, tok_ids *out);

/* WordPiece of one raw fragment (wpm.c normalises it); appends ids. */
int tok_wpm_fragment(const tok_vocab *v, tok_scratch *s, const char *t, size_t n, tok_ids *out);


#endif
