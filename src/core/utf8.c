/* utf8.c: UTF-8 per RFC 3629; see utf8.h for the contract. */
#include "core/utf8.h"

size_t utf8_lead_len(unsigned char c)
{
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte, or C0/C1 which only start overlongs */
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF5) return 4;
    return 0;
}

/* The valid range of the second byte depends on the lead byte (RFC 3629 table):
 * this is what rules out overlong forms, surrogates and code points past U+10FFFF. */
static int second_byte_ok(unsigned char lead, unsigned char b)
{
    switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
    }
}

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t len = utf8_lead_len(u[0]);
    if (len == 0 || len > n) return 0;
    if (len == 1) {
        if (cp) *cp = u[0];
        return 1;
    }
    if (!second_byte_ok(u[0], u[1])) return 0;
    for (size_t i = 2; i < len; i++)
        if ((u[i] & 0xC0) != 0x80) return 0;
    uint32_t v;
    if (len == 2) v = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    else if (len == 3)
        v = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    else
        v = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
            ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    if (cp) *cp = v;
    return len;
}

bool utf8_validate(const char *s, size_t n, size_t *bad_offset)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII runs dominate real text: skip them without the full decoder. */
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_decode(s + i, n - i, NULL);
        if (len == 0) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += len;
    }
    return true;
}

size_t utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF) return 0;
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_complete_len(const char *s, size_t n)
{
    /* Only the last three bytes can hold an unfinished character: find the lead
     * byte among them and check whether what follows it is a valid beginning. */
    const unsigned char *u = (const unsigned char *)s;
    size_t back = n < 3 ? n : 3;
    for (size_t k = 1; k <= back; k++) {
        size_t start = n - k;
        unsigned char c = u[start];
        if ((c & 0xC0) == 0x80) continue; /* continuation: keep looking left */
        size_t len = utf8_lead_len(c);
        if (len <= k) return n;           /* complete (or not a lead at all) */
        /* An unfinished sequence: hold it back only if it can still become valid. */
        if (k >= 2 && !second_byte_ok(c, u[start + 1])) return n;
        for (size_t i = start + 2; i < n; i++)
            if ((u[i] & 0xC0) != 0x80) return n;
        return start;
    }
    return n;
}

size_t utf8_count(const char *s, size_t n)
{
    size_t count = 0, i = 0;
    while (i < n) {
        size_t len = utf8_decode(s + i, n - i, NULL);
        i += len ? len : 1;
        count++;
    }
    return count;
}

size_t utf8_bad_len(const char *s, size_t n)
{
    if (n == 0) return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t len = utf8_lead_len(u[0]);
    if (len <= 1 || n < 2 || !second_byte_ok(u[0], u[1])) return 1;
    size_t i = 2;
    while (i < len && i < n && (u[i] & 0xC0) == 0x80) i++;
    return i;
}
