/* test_utf8: core/utf8 against the rules of RFC 3629, exhaustively where the
 * space is small (every code point, every one- and two-byte sequence). */
#include <stdint.h>

#include "check.h"
#include "core/utf8.h"

/* Independent statement of validity for two-byte inputs: a valid sequence is
 * ASCII followed by ASCII, or one two-byte character C2..DF 80..BF. */
static int valid2(unsigned a, unsigned b)
{
    if (a < 0x80) return b < 0x80;
    return a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF;
}

int main(void)
{
    /* Every code point: encode, decode back, validate. */
    int bad_rt = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        char buf[4];
        size_t n = utf8_encode(cp, buf);
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            if (n != 0) bad_rt++;
            continue;
        }
        uint32_t back = 0;
        if (n == 0 || utf8_decode(buf, n, &back) != n || back != cp || !utf8_validate(buf, n, NULL) ||
            utf8_complete_len(buf, n) != n || utf8_complete_len(buf, n - 1) != 0)
            bad_rt++;
    }
    CHECK_EQ_INT(bad_rt, 0);
    CHECK_EQ_INT(utf8_encode(0x110000, (char[4]){0}), 0);

    /* Every two-byte string. */
    int bad2 = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            char s[2] = {(char)a, (char)b};
            if (utf8_validate(s, 2, NULL) != (valid2(a, b) != 0)) bad2++;
        }
    CHECK_EQ_INT(bad2, 0);

    /* Overlongs, surrogates, past U+10FFFF, truncation: all invalid, offsets exact. */
    size_t off = 99;
    CHECK(!utf8_validate("ab\xC0\xAF", 4, &off));
    CHECK_EQ_INT(off, 2);
    CHECK(!utf8_validate("\xE0\x80\xAF", 3, &off));       /* overlong '/' */
    CHECK(!utf8_validate("x\xED\xA0\x80", 4, &off));       /* U+D800 */
    CHECK_EQ_INT(off, 1);
    CHECK(!utf8_validate("\xF4\x90\x80\x80", 4, &off));    /* U+110000 */
    CHECK(!utf8_validate("\xF0\x9F\x98", 3, &off));        /* emoji cut short */
    CHECK(!utf8_validate("\xFF", 1, &off));
    CHECK(utf8_validate("\xF0\x9F\x98\x80 \xED\x95\x9C", 8, &off));
    CHECK(utf8_validate("", 0, &off));

    /* complete_len holds back only an unfinished character that can still be valid. */
    CHECK_EQ_INT(utf8_complete_len("a\xED\x95", 3), 1);    /* 한 missing its last byte */
    CHECK_EQ_INT(utf8_complete_len("a\xF0\x9F", 3), 1);
    CHECK_EQ_INT(utf8_complete_len("a\xF0", 2), 1);
    CHECK_EQ_INT(utf8_complete_len("a\xED\xA0", 3), 3);    /* surrogate start: never valid */
    CHECK_EQ_INT(utf8_complete_len("a\x80", 2), 2);        /* stray continuation */
    CHECK_EQ_INT(utf8_complete_len("a\xC0", 2), 2);        /* C0 only starts overlongs */
    CHECK_EQ_INT(utf8_complete_len("\xF0\x9F\x98\x80", 4), 4);

    /* bad_len: the maximal subpart replaced by one U+FFFD. */
    CHECK_EQ_INT(utf8_bad_len("\xE4\xB8" "a", 3), 2);
    CHECK_EQ_INT(utf8_bad_len("\xF0\x9F\x98" "a", 4), 3);
    CHECK_EQ_INT(utf8_bad_len("\xED\xA0\x80", 3), 1);
    CHECK_EQ_INT(utf8_bad_len("\x80\x80", 2), 1);
    CHECK_EQ_INT(utf8_count("a\xFF\xE4\xB8\xAD", 5), 3);
    return check_done();
}
