/*
 * coex_ffi.h: what FFI library C code may use from Coex.
 *
 * Every FFI unit image is linked with the Coex shim (runtime/ffi_shim), so
 * these functions are always available to a unit's C sources; the FFI build
 * puts this header on the include path (`#include "coex_ffi.h"`).
 *
 * Handles. Opaque resources cross the FFI boundary as `int` (int64_t)
 * handles, never as pointers. A handle is only meaningful inside the FFI
 * instance that created it: looked up in any other instance (another task,
 * another func invocation, a reset pooled instance) or after it was freed,
 * it yields NULL, so the library can return an error code instead of
 * dereferencing a stale or foreign pointer. Handle 0 is never valid.
 *
 *     int64_t h = coex_handle_new(obj);      // 0 when out of memory
 *     struct thing *t = coex_handle_get(h);  // NULL: not ours / freed
 *     t = coex_handle_free(h);               // NULL: not ours / freed
 *
 * The handle table lives in the instance heap (the shim's malloc), so it is
 * released with the instance.
 *
 * Heap. `malloc`, `calloc`, `realloc`, `reallocarray`, `free`, `strdup`,
 * `strndup`, `posix_memalign`, `aligned_alloc`, `memalign`, `valloc`,
 * `pvalloc` and `malloc_usable_size` called by the unit's own code are served by the instance's private heap
 * (released wholesale when the instance is destroyed or reset). Under the
 * heap caps (docs/ffi.md) an allocation returns NULL; the call then ends in
 * Coex's ResourceExhausted case whatever the library returns.
 */
#ifndef COEX_FFI_H
#define COEX_FFI_H

#include <stdint.h>

/* A new handle for ptr in this instance; 0 when the table cannot grow. */
int64_t coex_handle_new(void *ptr);
/* The pointer of a live handle of this instance, else NULL. */
void *coex_handle_get(int64_t handle);
/* Forget a live handle of this instance and return its pointer, else NULL. */
void *coex_handle_free(int64_t handle);

#endif
