/* vocab_synth.c: builds the synthetic byte-level BPE vocabulary (vocab_synth.h).
 *
 * Merges are learnt here, by plain BPE training over the short English text
 * below: split it into words (an optional leading space, then a run of letters,
 * digits or other symbols; whitespace runs on their own), then repeatedly merge
 * the most frequent adjacent pair (ties: lowest left id, then lowest right id)
 * until no pair occurs twice or the vocabulary is full. Everything is integer
 * arithmetic over a fixed text: the result is the same on every machine. */
#include "model/vocab_synth.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/synth_rng.h"

/* Written for this project; any English prose would do. */
static const char corpus[] =
    "The river runs past the old mill and under the stone bridge, where the children of the "
    "town like to stand and watch the water. In the morning the light is soft and the air "
    "is cold, and the baker opens his door at six to let the smell of bread into the street. "
    "People walk to work, talk about the weather, and stop at the market for fruit, cheese "
    "and fresh fish. There is a small school on the hill with a red roof and a bell that "
    "rings at nine.\n\n"
    "When it rains, the streets turn dark and shine, and the cats hide under the carts. The "
    "teacher tells the children a story about a boat that sailed to the end of the world and "
    "came back with a map of the stars. They listen, they draw the boat, and they ask if the "
    "stars are really that far away. She says that light takes years to reach us, so the sky "
    "we see tonight is a picture of the past.\n\n"
    "In the afternoon the wind comes from the sea. Fishermen return with their nets, count the "
    "catch, and sell it before the sun goes down. The mayor writes a letter to the city about "
    "the bridge, which needs new stones, and about the road, which needs a new name. Nobody "
    "agrees on the name. Some want to call it after the river, some after the first teacher, "
    "and some think the old name was good enough.\n\n"
    "At night the town is quiet. A dog barks, a window closes, and the last bus leaves for the "
    "coast at ten. The numbers on the clock tower glow: 10, 11, 12. In the morning it will all "
    "begin again, with bread, water, light and the sound of the bell. This is how the days go, "
    "one after another, simple and kind, and the people who live here would not have it any "
    "other way. They work, they rest, they read books, they help their friends, and they "
    "remember what their parents taught them: be patient, be honest, and learn something new "
    "every day.\n\n"
    "Questions are good. Why does the river never stop? Where does the wind go? How many "
    "stars are there? What would you do if you could fly? Answers take time, and some have "
    "none. Still, it is worth asking, because asking is how we think, and thinking is how we "
    "find our way through the world.\n\n"
    "On Saturday there is a fair in the square. Farmers bring apples, pears, honey and wool; "
    "a man sells old tools and another repairs shoes while you wait. Music plays from a small "
    "stage, and in the evening everyone dances, even those who say they cannot. The children "
    "run between the stalls with sticky hands and bright faces, and the older people sit on "
    "the benches and remember other fairs, other songs, and friends who have moved away.\n\n"
    "The library is open every weekday from nine until five. It has a long table by the "
    "window, a shelf of maps, and a collection of letters written by sailors more than a "
    "hundred years ago. Students come to study, writers come to think, and some people come "
    "only because it is warm and quiet. The librarian knows where everything is, and she "
    "likes to recommend a book that nobody else has read.\n\n"
    "In winter the hills are white and the road over the pass is closed. Families stay "
    "inside, cook soup, play cards and tell stories by the fire. In spring the snow melts, "
    "the river rises, and the first flowers appear along the path to the lake. Summer "
    "brings long evenings and swimming; autumn brings rain, red leaves and the harvest. "
    "Each season has its own work and its own pleasure, and the town changes with them, "
    "slowly, like a tree that grows a little taller every year.\n";

static const char chat_template[] =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

static const char *const specials[3] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

#define MAX_MERGES 1000

struct vocab_synth {
    uint32_t n;          /* tokens */
    char *text;          /* all token texts, back to back */
    uint64_t text_len, text_cap;
    uint64_t *off;       /* (n + 1) offsets into text */
    int32_t *type;       /* n */
    char **merges;       /* n_merges "left right" strings */
    uint32_t n_merges;
    int32_t *slots;      /* hash set of token ids by text */
    uint64_t n_slots;    /* power of two */
};

/* GPT-2's byte-to-unicode map: printable bytes keep their code point, the 68
 * others move to U+0100 and up, so that every byte has a visible character. */
static uint32_t byte_to_cp(uint32_t b)
{
    bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    if (keep) return b;
    uint32_t n = 0;
    for (uint32_t x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    return 256 + n;
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* every mapped code point is below U+0800 */
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static const char *tok_text(const vocab_synth *v, uint32_t id, size_t *len)
{
    *len = (size_t)(v->off[id + 1] - v->off[id]);
    return v->text + v->off[id];
}

/* Id of the token spelled s, or -1. */
static int32_t find(const vocab_synth *v, const char *s, size_t n)
{
    uint64_t mask = v->n_slots - 1;
    for (uint64_t i = fnv1a(s, n) & mask;; i = (i + 1) & mask) {
        int32_t id = v->slots[i];
        if (id < 0) return -1;
        size_t len;
        const char *t = tok_text(v, (uint32_t)id, &len);
        if (len == n && memcmp(t, s, n) == 0) return id;
    }
}

/* Appends a token (caller checked it is new and that there is room). */
static int add(vocab_synth *v, const char *s, size_t n, int32_t type)
{
    if (v->text_len + n > v->text_cap) {
        uint64_t cap = v->text_cap * 2 + n;
        char *t = realloc(v->text, cap);
        if (!t) return INF_ERR_NOMEM;
        v->text = t;
        v->text_cap = cap;
    }
    memcpy(v->text + v->text_len, s, n);
    v->text_len += n;
    uint32_t id = v->n++;
    v->off[id + 1] = v->text_len;
    v->type[id] = type;
    uint64_t mask = v->n_slots - 1;
    uint64_t i = fnv1a(s, n) & mask;
    while (v->slots[i] >= 0) i = (i + 1) & mask;
    v->slots[i] = (int32_t)id;
    return INF_OK;
}

/* ---- BPE training over the corpus ---------------------------------------- */

typedef struct word {
    uint32_t *sym;  /* token ids */
    uint32_t n;
    uint32_t count;
} word;

typedef struct pair_count {
    uint64_t key;   /* left << 32 | right */
    uint32_t count;
} pair_count;

static int cmp_pair(const void *a, const void *b)
{
    uint64_t x = ((const pair_count *)a)->key, y = ((const pair_count *)b)->key;
    return x < y ? -1 : x > y;
}

static int char_class(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    if (c >= '0' && c <= '9') return 2;
    if (c == ' ' || c == '\n' || c == '\t') return 0;
    return 3;
}

/* Splits the corpus into unique words with counts. */
static int split_words(word **out, uint32_t *n_out)
{
    size_t len = sizeof corpus - 1, cap = 512;
    uint32_t n = 0;
    word *w = calloc(cap, sizeof *w);
    if (!w) return INF_ERR_NOMEM;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        if (corpus[i] == ' ' && i + 1 < len && char_class((unsigned char)corpus[i + 1]) != 0) {
            int cls = char_class((unsigned char)corpus[i + 1]);
            i++;
            while (i < len && char_class((unsigned char)corpus[i]) == cls) i++;
        } else if (char_class((unsigned char)corpus[i]) == 0) {
            while (i < len && char_class((unsigned char)corpus[i]) == 0 &&
                   !(corpus[i] == ' ' && i + 1 < len && char_class((unsigned char)corpus[i + 1])))
                i++;
        } else {
            int cls = char_class((unsigned char)corpus[i]);
            while (i < len && char_class((unsigned char)corpus[i]) == cls) i++;
        }
        size_t wl = i - start;
        uint32_t k = 0;
        for (; k < n; k++) {
            if (w[k].n != wl) continue;
            uint32_t j = 0;
            while (j < wl && w[k].sym[j] == (uint32_t)(unsigned char)corpus[start + j]) j++;
            if (j == wl) break;
        }
        if (k < n) {
            w[k].count++;
            continue;
        }
        if (n == cap) {
            word *nw = realloc(w, 2 * cap * sizeof *w);
            if (!nw) goto nomem;
            w = nw;
            cap *= 2;
        }
        w[n].sym = malloc(wl * sizeof *w[n].sym);
        if (!w[n].sym) goto nomem;
        for (size_t j = 0; j < wl; j++) w[n].sym[j] = (unsigned char)corpus[start + j];
        w[n].n = (uint32_t)wl;
        w[n].count = 1;
        n++;
    }
    *out = w;
    *n_out = n;
    return INF_OK;
nomem:
    for (uint32_t k = 0; k < n; k++) free(w[k].sym);
    free(w);
    return INF_ERR_NOMEM;
}

/* Learns merges until the vocabulary holds `limit` tokens. Word symbols start as
 * raw byte values and are turned into token ids first. */
static int learn_merges(vocab_synth *v, uint32_t limit)
{
    word *w = NULL;
    uint32_t nw = 0;
    pair_count *pairs = NULL;
    int rc = split_words(&w, &nw);
    if (rc) return rc;
    uint64_t total = 0;
    for (uint32_t k = 0; k < nw; k++) {
        for (uint32_t j = 0; j < w[k].n; j++) w[k].sym[j] += VOCAB_SYNTH_FIRST_BYTE;
        total += w[k].n;
    }
    pairs = malloc((total + 1) * sizeof *pairs);
    v->merges = calloc(MAX_MERGES, sizeof *v->merges);
    if (!pairs || !v->merges) {
        rc = INF_ERR_NOMEM;
        goto out;
    }
    while (v->n < limit && v->n_merges < MAX_MERGES) {
        uint64_t np = 0;
        for (uint32_t k = 0; k < nw; k++)
            for (uint32_t j = 0; j + 1 < w[k].n; j++)
                pairs[np++] = (pair_count){((uint64_t)w[k].sym[j] << 32) | w[k].sym[j + 1],
                                           w[k].count};
        if (np == 0) break;
        qsort(pairs, np, sizeof *pairs, cmp_pair);
        uint64_t best = 0;
        uint32_t best_count = 0;
        for (uint64_t i = 0; i < np;) {
            uint64_t j = i;
            uint32_t c = 0;
            while (j < np && pairs[j].key == pairs[i].key) c += pairs[j++].count;
            if (c > best_count) { /* sorted by key: the first maximum has the lowest ids */
                best_count = c;
                best = pairs[i].key;
            }
            i = j;
        }
        if (best_count < 2) break;
        uint32_t a = (uint32_t)(best >> 32), b = (uint32_t)best;
        size_t la, lb;
        const char *ta = tok_text(v, a, &la), *tb = tok_text(v, b, &lb);
        char *m = malloc(la + lb + 2);
        char *joined = malloc(la + lb);
        if (!m || !joined) {
            free(m);
            free(joined);
            rc = INF_ERR_NOMEM;
            goto out;
        }
        memcpy(m, ta, la);
        m[la] = ' ';
        memcpy(m + la + 1, tb, lb);
        m[la + lb + 1] = '\0';
        memcpy(joined, ta, la);
        memcpy(joined + la, tb, lb);
        v->merges[v->n_merges++] = m;
        int32_t id = find(v, joined, la + lb);
        if (id < 0) {
            rc = add(v, joined, la + lb, VOCAB_SYNTH_TYPE_NORMAL);
            id = (int32_t)v->n - 1;
        }
        free(joined);
        if (rc) goto out;
        for (uint32_t k = 0; k < nw; k++) {
            uint32_t o = 0;
            for (uint32_t j = 0; j < w[k].n; j++) {
                if (j + 1 < w[k].n && w[k].sym[j] == a && w[k].sym[j + 1] == b) {
                    w[k].sym[o++] = (uint32_t)id;
                    j++;
                } else {
                    w[k].sym[o++] = w[k].sym[j];
                }
            }
            w[k].n = o;
        }
    }
out:
    for (uint32_t k = 0; k < nw; k++) free(w[k].sym);
    free(w);
    free(pairs);
    return rc;
}

/* Fills the rest with words glued from k learnt tokens (k = 2, then 3 and 4 as
 * the combinations run out), then with numbered words: printable text that no
 * merge produces. */
static int add_fillers(vocab_synth *v, uint32_t n_vocab)
{
    int rc = INF_OK;
    const uint32_t first = VOCAB_SYNTH_MIN, n_learnt = v->n - VOCAB_SYNTH_MIN;
    synth_rng r;
    synth_rng_seed(&r, 0x5eed5eed5eedull);
    char buf[256];
    uint32_t misses = 0, serial = 0, k = 2;
    while (v->n < n_vocab && rc == INF_OK) {
        size_t len = 0;
        if (k <= 4 && n_learnt >= 2) {
            for (uint32_t i = 0; i < k; i++) {
                size_t l;
                const char *t = tok_text(v, first + synth_rng_below(&r, n_learnt), &l);
                if (len + l > sizeof buf) break;
                memcpy(buf + len, t, l);
                len += l;
            }
        } else {
            len = (size_t)snprintf(buf, sizeof buf, "\xc4\xa0w%u", serial++); /* "Ġw123" */
        }
        if (find(v, buf, len) >= 0) {
            if (++misses == 64) {
                k++;
                misses = 0;
            }
            continue;
        }
        misses = 0;
        rc = add(v, buf, len, VOCAB_SYNTH_TYPE_NORMAL);
    }
    return rc;
}

int vocab_synth_build(uint32_t n_vocab, vocab_synth **out, inf_error *err)
{
    int rc = INF_OK;
    *out = NULL;
    if (n_vocab < VOCAB_SYNTH_MIN || n_vocab > VOCAB_SYNTH_MAX)
        return inf_errorf(err, INF_ERR_RANGE, "vocabulary size %u: a synthetic vocabulary has "
                          "%u to %u tokens", n_vocab, VOCAB_SYNTH_MIN, VOCAB_SYNTH_MAX);
    vocab_synth *v = calloc(1, sizeof *v);
    if (!v) return inf_errorf(err, INF_ERR_NOMEM, "out of memory for the vocabulary");
    v->n_slots = 1;
    while (v->n_slots < 2ull * n_vocab) v->n_slots <<= 1;
    v->off = calloc((size_t)n_vocab + 1, sizeof *v->off);
    v->type = calloc(n_vocab, sizeof *v->type);
    v->slots = malloc(v->n_slots * sizeof *v->slots);
    v->text_cap = 16ull * n_vocab;
    v->text = malloc(v->text_cap);
    if (!v->off || !v->type || !v->slots || !v->text) {
        rc = INF_ERR_NOMEM;
        goto out;
    }
    memset(v->slots, 0xff, v->n_slots * sizeof *v->slots);
    for (int i = 0; i < 3 && rc == INF_OK; i++)
        rc = add(v, specials[i], strlen(specials[i]), VOCAB_SYNTH_TYPE_CONTROL);
    for (uint32_t b = 0; b < 256 && rc == INF_OK; b++) {
        char s[2];
        rc = add(v, s, utf8_put(byte_to_cp(b), s), VOCAB_SYNTH_TYPE_NORMAL);
    }
    if (rc == INF_OK) rc = learn_merges(v, n_vocab);
    if (rc == INF_OK) rc = add_fillers(v, n_vocab);
out:
    if (rc) {
        vocab_synth_free(v);
        return inf_errorf(err, rc, "out of memory building a %u-token vocabulary", n_vocab);
    }
    *out = v;
    return INF_OK;
}

void vocab_synth_free(vocab_synth *v)
{
    if (!v) return;
    for (uint32_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->merges);
    free(v->text);
    free(v->off);
    free(v->type);
    free(v->slots);
    free(v);
}

uint32_t vocab_synth_size(const vocab_synth *v) { return v->n; }

const char *vocab_synth_token(const vocab_synth *v, uint32_t id, size_t *len)
{
    return tok_text(v, id, len);
}

int32_t vocab_synth_token_type(const vocab_synth *v, uint32_t id) { return v->type[id]; }

uint32_t vocab_synth_merge_count(const vocab_synth *v) { return v->n_merges; }

const char *vocab_synth_merge(const vocab_synth *v, uint32_t i) { return v->merges[i]; }

const char *vocab_synth_chat_template(void) { return chat_template; }

int vocab_synth_write(const vocab_synth *v, gguf_writer *w, const char *pre)
{
    int rc = INF_OK;
    size_t cap = v->n > v->n_merges ? v->n : v->n_merges;
    const char **strs = malloc(cap * sizeof *strs);
    size_t *lens = malloc(cap * sizeof *lens);
    if (!strs || !lens) {
        rc = INF_ERR_NOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < v->n; i++) strs[i] = tok_text(v, i, &lens[i]);
    rc = gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    if (!rc) rc = gguf_writer_set_str(w, "tokenizer.ggml.pre", pre, strlen(pre));
    if (!rc) rc = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, lens, v->n);
    if (!rc) rc = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, v->type, v->n);
    for (uint32_t i = 0; i < v->n_merges; i++) {
        strs[i] = v->merges[i];
        lens[i] = strlen(v->merges[i]);
    }
    if (!rc) rc = gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", strs, lens, v->n_merges);
    if (!rc) rc = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", VOCAB_SYNTH_ENDOFTEXT);
    if (!rc) rc = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", VOCAB_SYNTH_IM_END);
    if (!rc) rc = gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", VOCAB_SYNTH_ENDOFTEXT);
    if (!rc) rc = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    if (!rc) rc = gguf_writer_set_str(w, "tokenizer.chat_template", chat_template,
                                      strlen(chat_template));
out:
    free(strs);
    free(lens);
    return rc;
}
