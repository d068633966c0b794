/* unicode_tables.h: the few Unicode properties and mappings the WordPiece (BERT)
 * normaliser needs, from tables generated out of Python's unicodedata (Unicode 14;
 * gen_unicode_tables.py writes unicode_tables.c). Pure functions, any thread. */
#ifndef INFERD_TOKENIZER_UNICODE_TABLES_H
#define INFERD_TOKENIZER_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#define TOK_UNI_MAX_EXPAND 7 /* longest mapping of one code point */

/* Full canonical decomposition (NFD) of one code point, in canonical order as the
 * Unicode data lists it; the code point itself when it has none. Returns the count. */
size_t tok_uni_nfd(uint32_t cp, uint32_t out[TOK_UNI_MAX_EXPAND]);

/* Lowercase of one code point on its own (may be several, e.g. U+0130). */
size_t tok_uni_lower(uint32_t cp, uint32_t out[TOK_UNI_MAX_EXPAND]);

int tok_uni_is_mn(uint32_t cp);    /* general category Mn (nonspacing mark) */
int tok_uni_is_punct(uint32_t cp); /* general category P* */
int tok_uni_is_other(uint32_t cp); /* Cc, Cf, Cs, Co (control, format, surrogate, private) */
int tok_uni_is_space(uint32_t cp); /* White_Space */

#endif
