/* pretok.c: the pre-tokenizers of byte-level BPE vocabularies, one list of
 * regexes per tokenizer.ggml.pre flavour, run with PCRE2 (UTF, Unicode
 * properties, JIT).
 *
 * The regexes restate the Split/ByteLevel/Digits/Punctuation steps of each
 * model family's published tokenizer.json. Two deliberate spellings:
 *   - \s is written out as Unicode White_Space (WS below), which is what the
 *     reference engine (Oniguruma, in Hugging Face tokenizers) matches; PCRE2's
 *     own \s leaves out U+0085;
 *   - non-ASCII characters in classes are written as \x{...} code points, so no
 *     editor or normalisation can turn U+212A KELVIN SIGN into a plain K.
 * Property tables are PCRE2's (Unicode 14 in Debian 12's 10.42): characters
 * assigned after that are not letters here. */
#include "tokenizer/tok_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

#define WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
#define S "[" WS "]"
#define NOT_S "[^" WS "]"

/* GPT-2's word regex (also the ByteLevel pre-tokenizer's). */
#define RE_GPT2                                                                    \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" S "+(?!" \
    NOT_S ")|" S "+"

/* cl100k-style, as Llama 3 and GLM-4 ship it; Qwen2 differs in single digits. */
#define RE_LLAMA3_(DIGITS)                                                                \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" DIGITS "| ?[^" WS       \
    "\\p{L}\\p{N}]+[\\r\\n]*|" S "*[\\r\\n]+|" S "+(?!" NOT_S ")|" S "+"

/* CJK ideographs, the blocks from U+0800 up to them, and Hangul (DeepSeek). */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

/* DeepSeek LLM's letters: the cased letters (Unicode category LC) as its
 * tokenizer.json lists them. */
#define RE_DEEPSEEK_LC                                                                         \
    "A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-"     \
    "\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}"       \
    "\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}"      \
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-"      \
    "\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}"    \
    "\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-"    \
    "\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-"     \
    "\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-"    \
    "\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}"    \
    "\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}"      \
    "\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-"    \
    "\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-"     \
    "\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"     \
    "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-"   \
    "\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-"         \
    "\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-"     \
    "\\x{118DF}\\x{1E900}-\\x{1E943}"

#define MAX_REGEX 6

typedef struct flavour {
    const char *names[12];    /* tokenizer.ggml.pre values; the first is the canonical one */
    const char *regex[MAX_REGEX];
    bool ignore_merges;       /* the tokenizer.json says "ignore_merges": true */
} flavour;

static const flavour flavours[] = {
    {{"gpt-2", "default", "mpt", "olmo", "jais", "gpt2", NULL}, {RE_GPT2}, false},
    {{"llama3", "llama-bpe", "llama-v3", "falcon3", "falcon-h1", "pixtral", "smaug-bpe", "dbrx",
      "lfm2", "midm-2.0", NULL},
     {RE_LLAMA3_("\\p{N}{1,3}")},
     true},
    {{"glm4", "chatglm-bpe", NULL}, {RE_LLAMA3_("\\p{N}{1,3}")}, false},
    {{"qwen2", "deepseek-r1-qwen", "megrez", NULL}, {RE_LLAMA3_("\\p{N}")}, false},
    /* Digits(individual_digits) before the GPT-2 split. */
    {{"smollm", "starcoder", "refact", "codeshell", "exaone", "command-r", "minerva-7b", NULL},
     {"\\p{N}", RE_GPT2},
     false},
    /* Punctuation (ASCII punctuation or Unicode P), ByteLevel, then ASCII digits
     * in threes. */
    {{"falcon", NULL},
     {"[\\p{P}$+<=>^`|~]+", RE_GPT2, "[0-9][0-9][0-9]"},
     false},
    {{"deepseek-llm", NULL},
     {"[\\r\\n]", S "?[" RE_DEEPSEEK_LC "]+",
      S "?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      S "+$", RE_DEEPSEEK_CJK, "\\p{N}"},
     false},
    {{"deepseek-coder", NULL},
     {"[\\r\\n]", S "?\\p{L}+", S "?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}"},
     false},
    {{"deepseek-v3", NULL},
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
      "\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|" S "*[\\r\\n]+|" S "+(?!" NOT_S ")|" S "+"},
     false},
};

struct tok_pretok {
    const flavour *fl;
    pcre2_code *code[MAX_REGEX];
    int n;
};

static const flavour *find_flavour(const char *name)
{
    if (!name || !*name) name = "default";
    for (size_t i = 0; i < sizeof flavours / sizeof flavours[0]; i++)
        for (const char *const *n = flavours[i].names; *n; n++)
            if (!strcmp(*n, name)) return &flavours[i];
    return NULL;
}

int tok_pretok_create(const char *name, tok_pretok **out, inf_error *err)
{
    *out = NULL;
    const flavour *fl = find_flavour(name);
    if (!fl)
        return inf_errorf(err, INF_ERR_UNSUPPORTED,
                          "tokenizer: pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported", name);
    tok_pretok *p = calloc(1, sizeof *p);
    if (!p) return inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
    p->fl = fl;
    for (int i = 0; i < MAX_REGEX && fl->regex[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        p->code[i] = pcre2_compile((PCRE2_SPTR)fl->regex[i], PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        if (!p->code[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            tok_pretok_free(p);
            return inf_errorf(err, INF_ERR_INTERNAL, "tokenizer: regex %d of '%s' at %zu: %s", i,
                              fl->names[0], (size_t)eo, (const char *)msg);
        }
        /* JIT is an optimisation: where it is unavailable the interpreter runs. */
        pcre2_jit_compile(p->code[i], PCRE2_JIT_COMPLETE);
        p->n = i + 1;
    }
    *out = p;
    return INF_OK;
}

void tok_pretok_free(tok_pretok *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) pcre2_code_free(p->code[i]);
    free(p);
}

const char *tok_pretok_name(const tok_pretok *p) { return p->fl->names[0]; }
bool tok_pretok_ignore_merges(const tok_pretok *p) { return p->fl->ignore_merges; }

void tok_spans_free(tok_spans *s)
{
    if (!s) return;
    free(s->start);
    free(s->end);
    memset(s, 0, sizeof *s);
}

static int spans_push(tok_spans *s, size_t a, size_t b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint32_t *ns = realloc(s->start, cap * sizeof *ns);
        if (!ns) return INF_ERR_NOMEM;
        s->start = ns;
        uint32_t *ne = realloc(s->end, cap * sizeof *ne);
        if (!ne) return INF_ERR_NOMEM;
        s->end = ne;
        s->cap = cap;
    }
    s->start[s->n] = (uint32_t)a;
    s->end[s->n] = (uint32_t)b;
    s->n++;
    return INF_OK;
}

/* Splits one piece with one regex: matches and the gaps between them. */
static int split_piece(pcre2_code *code, pcre2_match_data *md, const char *text, size_t s,
                       size_t e, tok_spans *out)
{
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + s);
    size_t n = e - s, pos = 0, last = 0;
    while (pos < n) {
        int rc = pcre2_match(code, subj, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return INF_ERR_INTERNAL;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) { /* an empty match splits nothing: step over one character */
            pos = ms + 1;
            while (pos < n && ((unsigned char)subj[pos] & 0xC0) == 0x80) pos++;
            continue;
        }
        if (ms > last && spans_push(out, s + last, s + ms)) return INF_ERR_NOMEM;
        if (spans_push(out, s + ms, s + me)) return INF_ERR_NOMEM;
        last = pos = me;
    }
    if (last < n && spans_push(out, s + last, e)) return INF_ERR_NOMEM;
    return INF_OK;
}

int tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_spans *a,
                     tok_spans *b, tok_spans **out, inf_error *err)
{
    *out = NULL;
    if (len > UINT32_MAX)
        return inf_errorf(err, INF_ERR_RANGE, "tokenizer: text of %zu bytes is too long", len);
    int rc = INF_OK;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
    tok_spans *cur = a, *next = b;
    cur->n = 0;
    if (len && spans_push(cur, 0, len)) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "tokenizer: out of memory");
        goto out;
    }
    for (int r = 0; r < p->n; r++) {
        next->n = 0;
        for (size_t i = 0; i < cur->n; i++) {
            rc = split_piece(p->code[r], md, text, cur->start[i], cur->end[i], next);
            if (rc) {
                inf_errorf(err, rc, "tokenizer: pre-tokenizer '%s' failed on the text at byte %u",
                           p->fl->names[0], (unsigned)cur->start[i]);
                goto out;
            }
        }
        tok_spans *t = cur;
        cur = next;
        next = t;
    }
    *out = cur;
out:
    pcre2_match_data_free(md);
    return rc;
}
