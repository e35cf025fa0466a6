/* The rx FFI unit: a handle table over libc's POSIX regex functions.
 *
 * Uses nothing but libc. State (the table and the last error text) lives in
 * plain globals: each Coex FFI instance has its own copy.
 */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "rx_wrapper.h"

#define MAX_PATTERNS 128

struct rx_slot {
    int used;
    regex_t re;
};

static struct rx_slot table[MAX_PATTERNS];
static char last_error[256] = "";

static void set_error(const char *text)
{
    snprintf(last_error, sizeof last_error, "%s", text);
}

static regex_t *lookup(int64_t handle)
{
    if (handle < 1 || handle > MAX_PATTERNS || !table[handle - 1].used) {
        set_error("invalid regex handle");
        return NULL;
    }
    return &table[handle - 1].re;
}

/* Compiles `pattern` (POSIX extended syntax). Returns a handle >= 1, or 0 on
 * failure with the reason available from coex_rx_error(). */
int64_t coex_rx_compile(const char *pattern, int64_t flags)
{
    int64_t i;
    int cflags = REG_EXTENDED;
    if (flags & COEX_RX_ICASE) {
        cflags |= REG_ICASE;
    }
    if (flags & COEX_RX_NEWLINE) {
        cflags |= REG_NEWLINE;
    }
    for (i = 0; i < MAX_PATTERNS; i++) {
        if (!table[i].used) {
            int rc = regcomp(&table[i].re, pattern, cflags);
            if (rc != 0) {
                regerror(rc, &table[i].re, last_error, sizeof last_error);
                return 0;
            }
            table[i].used = 1;
            set_error("");
            return i + 1;
        }
    }
    set_error("too many compiled patterns (free some with coex_rx_free)");
    return 0;
}

/* 1 if the pattern matches anywhere in `text`, else 0. */
int32_t coex_rx_match(int64_t handle, const char *text)
{
    regex_t *re = lookup(handle);
    if (re == NULL) {
        return 0;
    }
    return regexec(re, text, 0, NULL, 0) == 0 ? 1 : 0;
}

/* Byte offset of the first match, or -1 when there is none. */
int64_t coex_rx_find(int64_t handle, const char *text)
{
    regmatch_t m;
    regex_t *re = lookup(handle);
    if (re == NULL) {
        return -1;
    }
    if (regexec(re, text, 1, &m, 0) != 0) {
        return -1;
    }
    return (int64_t)m.rm_so;
}

/* Number of non-overlapping matches in `text` (an empty match advances by
 * one byte so the count always terminates). */
int64_t coex_rx_count(int64_t handle, const char *text)
{
    regmatch_t m;
    int64_t count = 0;
    const char *p = text;
    int eflags = 0;
    regex_t *re = lookup(handle);
    if (re == NULL) {
        return -1;
    }
    while (regexec(re, p, 1, &m, eflags) == 0) {
        count++;
        if (m.rm_eo > m.rm_so) {
            p += m.rm_eo;
        } else if (p[m.rm_so] != '\0') {
            p += m.rm_so + 1;
        } else {
            break;
        }
        if (*p == '\0') {
            break;
        }
        eflags = REG_NOTBOL;
    }
    return count;
}

/* Frees a handle; 1 if it was live, 0 otherwise. */
int32_t coex_rx_free(int64_t handle)
{
    regex_t *re = lookup(handle);
    if (re == NULL) {
        return 0;
    }
    regfree(re);
    table[handle - 1].used = 0;
    return 1;
}

/* Text of the last error ("" when the last compile succeeded). */
const char *coex_rx_error(void)
{
    return last_error;
}
