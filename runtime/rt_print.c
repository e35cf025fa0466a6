/* rt_print.c: print and to_string. All output goes through C's `stdout` FILE,
 * the same one puts/printf use, so Coex and C output interleave in program
 * order. Each print is one locked line, so lines from parallel tasks never mix. */
#include "coex_rt.h"

#include <stdio.h>

static void put_line(const char *bytes, int64_t len) {
    flockfile(stdout);
    fwrite_unlocked(bytes, 1, (size_t)len, stdout);
    putc_unlocked('\n', stdout);
    funlockfile(stdout);
}

void coex_print_int(int64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    put_line(buf, n);
}

void coex_print_float(double v) {
    coex_str *s = coex_float_to_string(v);
    put_line(s->bytes, s->len);
}

void coex_print_bool(int32_t v) {
    if (v) put_line("true", 4);
    else put_line("false", 5);
}

void coex_print_str(const coex_str *s) { put_line(s->bytes, s->len); }

coex_str *coex_int_to_string(int64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    return coex_str_new(buf, n);
}

coex_str *coex_float_to_string(double v) {
    char small[64];
    int n = snprintf(small, sizeof small, "%f", v);
    if (n < (int)sizeof small) return coex_str_new(small, n);
    /* %f of a huge double has up to ~317 digits */
    char big[400];
    n = snprintf(big, sizeof big, "%f", v);
    return coex_str_new(big, n);
}

coex_str *coex_bool_to_string(int32_t v) {
    return v ? coex_str_new("true", 4) : coex_str_new("false", 5);
}
