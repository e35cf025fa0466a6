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

int64_t coex_str_len(const coex_str *s) { return s->len; }

coex_str *coex_str_from_cstr(const char *p) {
    if (!p) return coex_str_new("", 0);
    return coex_str_new(p, (int64_t)strlen(p));
}
