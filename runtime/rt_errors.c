/* rt_errors.c: runtime errors. Every runtime error flushes what the program
 * printed so far, writes one worded block to stderr and exits with status 1
 * (never a signal, never a core dump). */
#include "coex_rt.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void coex_rt_flush_all(void) { fflush(NULL); }

static void write_location(const coex_loc *loc) {
    if (!loc) return;
    const char *file = loc->text;
    const char *source = file + strlen(file) + 1;
    char num[32];
    int width = snprintf(num, sizeof num, "%lld", (long long)loc->line);
    fprintf(stderr, "  --> %s:%lld\n", file, (long long)loc->line);
    fprintf(stderr, "%*s |\n", width, "");
    fprintf(stderr, "%s | %s\n", num, source);
}

_Noreturn void coex_rt_error_body(const char *msg, const char *body, const coex_loc *loc) {
    coex_rt_flush_all();
    flockfile(stderr);
    fprintf(stderr, "error: %s\n", msg);
    write_location(loc);
    if (body) fprintf(stderr, "\n%s", body);
    fflush(stderr);
    funlockfile(stderr);
    coex_rt_report_peak();
    _exit(1);
}

_Noreturn void coex_rt_error(const char *msg, const coex_loc *loc) {
    coex_rt_error_body(msg, NULL, loc);
}

int64_t coex_int_div(int64_t a, int64_t b, const coex_loc *loc) {
    if (b == 0) coex_rt_error("division by zero", loc);
    if (b == -1) return (int64_t)(0 - (uint64_t)a); /* INT64_MIN / -1 wraps */
    return a / b;
}

int64_t coex_int_mod(int64_t a, int64_t b, const coex_loc *loc) {
    if (b == 0) coex_rt_error("modulo by zero", loc);
    if (b == -1) return 0;
    return a % b;
}
