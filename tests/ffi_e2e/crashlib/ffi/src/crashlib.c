/* Every function but bad_string crashes inside the library on purpose. */
#include <stdint.h>
#include <stdlib.h>

int64_t crash_null(int64_t x)
{
    volatile int64_t *p = NULL;
    return *p + x; /* SIGSEGV */
}

int64_t crash_abort(int64_t x)
{
    if (x >= 0) abort(); /* SIGABRT */
    return x;
}

int64_t crash_div(int64_t x)
{
    volatile int64_t zero = 0;
    return x / zero; /* SIGFPE: integer division by zero */
}

int64_t crash_str(const char *s)
{
    volatile const char *p = s ? NULL : s;
    return *p; /* SIGSEGV, through the full call path (string argument) */
}

/* Recursion without end: a stack overflow inside the library. */
int64_t crash_deep(int64_t n)
{
    volatile char frame[256];
    frame[0] = (char)n;
    return crash_deep(n + 1) + frame[0];
}

/* A pointer no string lives at: the crash happens in the runtime's copy of
 * the result, after the call returned (Coex's side, not the library's). */
const char *bad_string(void)
{
    return (const char *)16;
}
