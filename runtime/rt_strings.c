/* rt_strings.c: immutable UTF-8 strings in the GC heap (length + bytes + NUL). */
#include "coex_rt.h"

#include <string.h>

coex_str *coex_str_new(const char *bytes, int64_t len) {
    coex_str *s = GC_MALLOC_ATOMIC(sizeof(coex_str) + (size_t)len + 1);
    if (!s) coex_rt_error("out of memory", NULL);
    s->len = len;
    if (len > 0) memcpy(s->bytes, bytes, (size_t)len);
    s->bytes[len] = '\0';
    return s;
}

coex_str *coex_str_concat(const coex_str *a, const coex_str *b) {
    int64_t len = a->len + b->len;
    coex_str *s = GC_MALLOC_ATOMIC(sizeof(coex_str) + (size_t)len + 1);
    if (!s) coex_rt_error("out of memory", NULL);
    s->len = len;
    memcpy(s->bytes, a->bytes, (size_t)a->len);
    memcpy(s->bytes + a->len, b->bytes, (size_t)b->len);
    s->bytes[len] = '\0';
    return s;
}

int32_t coex_str_eq(const coex_str *a, const coex_str *b) {
    return a->len == b->len && memcmp(a->bytes, b->bytes, (size_t)a->len) == 0;
}

int64_t coex_str_cmp(const coex_str *a, const coex_str *b) {
    int64_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, (size_t)n);
    if (c != 0) return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* Length of a well-formed UTF-8 sequence starting at p (n bytes left), or 0
 * when none starts there (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static int64_t utf8_seq_len(const unsigned char *p, int64_t n) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && p[1] > 0x9F) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && p[1] > 0x8F) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* `s.len()`: Unicode code points, as the original compiler (Python's len)
 * counts. Bytes that are not part of well-formed UTF-8 (possible only in
 * program arguments and extern results) count one each. */
int64_t coex_str_len(const coex_str *s) {
    const unsigned char *p = (const unsigned char *)s->bytes;
    int64_t n = s->len, i = 0, count = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
        } else {
            int64_t k = utf8_seq_len(p + i, n - i);
            i += k ? k : 1;
        }
        count++;
    }
    return count;
}

coex_str *coex_str_from_cstr(const char *p) {
    if (!p) return coex_str_new("", 0);
    return coex_str_new(p, (int64_t)strlen(p));
}
