/* rt_main.c: the process entry point. Keeps the program's arguments, installs
 * the crash handler, runs the generated coex_main (the Coex `main`, its
 * return value the exit status) on a thread with a large stack (rt_stack.c),
 * flushes stdout, exits. Also the `arg_count()` / `arg(i)` built-ins. */
#include "coex_rt.h"

#include <stdio.h>
#include <string.h>

/* Invariant: set once by main before coex_rt_init and never written again, so
 * any thread (tasks start later) reads them without locks; argv[1..argc) are
 * the program's arguments. */
static int64_t rt_argc;
static char **rt_argv;

int64_t coex_arg_count(void) { return rt_argc > 1 ? rt_argc - 1 : 0; }

/* Argument bytes are passed through as given (not checked for UTF-8), like
 * strings returned by C functions (coex_str_from_cstr). */
coex_str *coex_arg(int64_t i, const coex_loc *loc) {
    int64_t n = coex_arg_count();
    if (i < 0 || i >= n) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "argument index out of range: arg(%lld), but the program has %lld argument%s",
                 (long long)i, (long long)n, n == 1 ? "" : "s");
        coex_rt_error(msg, loc);
    }
    const char *p = rt_argv[i + 1];
    return coex_str_new(p, (int64_t)strlen(p));
}

int main(int argc, char **argv) {
    rt_argc = argc;
    rt_argv = argv;
    coex_rt_init();
    coex_rt_crash_init();
    int64_t status = coex_rt_run_main();
    coex_rt_flush_all();
    coex_rt_report_peak();
    return (int)(status & 0xff);
}
