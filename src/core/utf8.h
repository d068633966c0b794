/* utf8.h: UTF-8 validation, decoding and encoding (RFC 3629).
 *
 * "Valid" means what RFC 3629 allows: shortest form only, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. The tokenizer rejects invalid input
 * with the byte offset of the first bad byte; the streaming detokenizer and the
 * server use utf8_complete_len() to hold back a character split across chunks.
 * Pure functions over caller buffers: no state, any thread. */
#ifndef INFERD_CORE_UTF8_H
#define INFERD_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_MAX_BYTES 4
#define UTF8_REPLACEMENT 0xFFFDu

/* Decodes one character at s[0..n). Returns its length in bytes (1..4) and sets
 * *cp, or returns 0 when the bytes there are not a valid character (bad lead byte,
 * bad or missing continuation, overlong form, surrogate, > U+10FFFF, or n == 0).
 * Never reads past s[n-1]. cp may be NULL. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Length of the character whose lead byte is c judged by that byte alone
 * (1..4), or 0 for a continuation byte or a byte that never starts one. */
size_t utf8_lead_len(unsigned char c);

/* True when s[0..n) is entirely valid. When it is not and bad_offset is not
 * NULL, *bad_offset is the offset of the first byte that starts no valid character. */
bool utf8_validate(const char *s, size_t n, size_t *bad_offset);

/* Writes cp as UTF-8 into out (room for UTF8_MAX_BYTES). Returns the length, or
 * 0 (nothing written) when cp is a surrogate or above U+10FFFF. */
size_t utf8_encode(uint32_t cp, char *out);

/* Length of the longest prefix of s[0..n) that does not end inside a character
 * that more bytes could still complete. Bytes that can never become valid count
 * as complete (they are the caller's to replace), so the held-back tail is at most
 * 3 bytes: a valid, unfinished lead sequence. */
size_t utf8_complete_len(const char *s, size_t n);

/* Where utf8_decode(s, n) fails: how many bytes to replace by one U+FFFD, the
 * "maximal subpart" of the bad sequence (Unicode, chapter 3) that Python and
 * browsers also replace as one. At least 1 when n > 0. */
size_t utf8_bad_len(const char *s, size_t n);

/* Number of characters in s[0..n) that utf8_decode accepts plus the number of
 * bytes it rejects (each bad byte counts as one). */
size_t utf8_count(const char *s, size_t n);

#endif
