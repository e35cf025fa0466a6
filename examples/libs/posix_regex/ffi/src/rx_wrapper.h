/* Boundary of the rx FFI unit (POSIX regex over libc). */
#ifndef COEX_RX_WRAPPER_H
#define COEX_RX_WRAPPER_H

#include <stdint.h>

/* Flags for coex_rx_compile (may be or-ed / added). */
#define COEX_RX_ICASE 1   /* ignore case */
#define COEX_RX_NEWLINE 2 /* '.' and [^...] do not match newline; ^ $ match at lines */

int64_t coex_rx_compile(const char *pattern, int64_t flags);
int32_t coex_rx_match(int64_t handle, const char *text);
int64_t coex_rx_find(int64_t handle, const char *text);
int64_t coex_rx_count(int64_t handle, const char *text);
int32_t coex_rx_free(int64_t handle);
const char *coex_rx_error(void);

#endif
