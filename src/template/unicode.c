/* unicode.c: UTF-8 walking and the character classes Python's str methods use.
 *
 * Python strings are sequences of code points, so len(), slicing and case
 * mapping work per code point. Whitespace follows str.isspace() exactly (it is
 * what jinja2's lexer and strip() use); letters, digits and case mapping come
 * from glibc's C.UTF-8 locale, which gives the simple one-to-one mappings (Python's
 * few one-to-many mappings such as 'ß'.upper() == 'SS' are not reproduced). */
#include "template/tmpl_internal.h"

#include <locale.h>
#include <pthread.h>
#include <wctype.h>

uint32_t tmpl_utf8_next(const char *s, size_t n, size_t *i)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t k = *i;
    uint32_t c = u[k];
    int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (extra == 0 || k + (size_t)extra >= n) {
        *i = k + 1;
        return c;
    }
    uint32_t cp = c & (0x3f >> extra);
    for (int j = 1; j <= extra; j++) {
        if ((u[k + j] & 0xc0) != 0x80) {
            *i = k + 1;
            return c;
        }
        cp = (cp << 6) | (u[k + j] & 0x3f);
    }
    *i = k + 1 + (size_t)extra;
    return cp;
}

size_t tmpl_utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t tmpl_utf8_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) c++;
    return c;
}

size_t tmpl_utf8_offset(const char *s, size_t n, size_t ci)
{
    size_t i = 0;
    while (ci > 0 && i < n) {
        tmpl_utf8_next(s, n, &i);
        ci--;
    }
    return i;
}

bool tmpl_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int extra;
        uint32_t min;
        if (c >= 0xc2 && c <= 0xdf) { extra = 1; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { extra = 2; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { extra = 3; min = 0x10000; }
        else return false;
        if (i + (size_t)extra >= n) return false;
        uint32_t cp = c & (0x3f >> extra);
        for (int j = 1; j <= extra; j++) {
            if ((u[i + j] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (u[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += 1 + (size_t)extra;
    }
    return true;
}

bool tmpl_uni_space(uint32_t cp)
{
    if (cp <= 0x20) return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
    switch (cp) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f:
    case 0x205f: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* The C.UTF-8 locale, created once and never changed: immutable shared state. */
static locale_t loc(void)
{
    pthread_once(&utf8_once, utf8_locale_init);
    return utf8_locale;
}

bool tmpl_uni_printable(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) return false;
    if (cp < 0x7f) return true;
    if (tmpl_uni_space(cp)) return false; /* Zs/Zl/Zp other than ' ' */
    if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2060 && cp <= 0x2064) || cp == 0xfeff || cp == 0x061c || cp == 0x180e)
        return false;                     /* format characters (Cf) */
    if ((cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000) return false; /* private use */
    if ((cp & 0xfffe) == 0xfffe) return false;                          /* noncharacters */
    return true;
}

bool tmpl_uni_alpha(uint32_t cp)
{
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    locale_t l = loc();
    return l ? iswalpha_l((wint_t)cp, l) && !iswdigit_l((wint_t)cp, l) : false;
}

bool tmpl_uni_digit(uint32_t cp)
{
    return cp >= '0' && cp <= '9';
}

bool tmpl_uni_upper(uint32_t cp)
{
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
    locale_t l = loc();
    return l ? iswupper_l((wint_t)cp, l) : false;
}

bool tmpl_uni_lower(uint32_t cp)
{
    if (cp < 0x80) return cp >= 'a' && cp <= 'z';
    locale_t l = loc();
    return l ? iswlower_l((wint_t)cp, l) : false;
}

uint32_t tmpl_uni_toupper(uint32_t cp)
{
    if (cp < 0x80) return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
    locale_t l = loc();
    return l ? (uint32_t)towupper_l((wint_t)cp, l) : cp;
}

uint32_t tmpl_uni_tolower(uint32_t cp)
{
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    locale_t l = loc();
    return l ? (uint32_t)towlower_l((wint_t)cp, l) : cp;
}
