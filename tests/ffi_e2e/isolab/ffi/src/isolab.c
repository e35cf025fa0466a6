/* Deliberately thread-unsafe: plain globals, one shared buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coex_ffi.h"

static int64_t counter;
static char buf[64];

int64_t iso_inc(void) { return ++counter; }
int64_t iso_get(void) { return counter; }

const char *iso_fmt(int64_t x)
{
    snprintf(buf, sizeof buf, "id-%lld", (long long)x);
    for (volatile int spin = 0; spin < 2000; spin++) {
    }
    return buf;
}

/* The last allocation, kept (a global, so the compiler cannot drop it). */
static char *kept;

/* 1 when mb MiB could be allocated (and kept), 0 when malloc said no. */
int64_t iso_grab_mb(int64_t mb)
{
    char *p = malloc((size_t)mb << 20);
    if (p == NULL) {
        return 0;
    }
    memset(p, 1, (size_t)mb << 20);
    p[0] = (char)(kept != NULL);
    kept = p;
    return 1;
}

void iso_sleep_ms(int64_t ms) { usleep((useconds_t)(ms * 1000)); }

int64_t iso_box(int64_t v)
{
    int64_t *p = malloc(sizeof *p);
    if (p == NULL) {
        return 0;
    }
    *p = v;
    return coex_handle_new(p);
}

int64_t iso_unbox(int64_t h)
{
    int64_t *p = coex_handle_get(h);
    return p == NULL ? -1 : *p;
}
