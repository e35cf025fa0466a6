/*
 * coex_shim_abi.h: the interface between the runtime and the shim linked
 * into every FFI unit image (runtime/ffi_shim/coex_shim.c, docs/ffi.md).
 * The two are compiled separately (the runtime into the executable, the
 * shim into each unit image), so both include this one declaration.
 */
#ifndef COEX_SHIM_ABI_H
#define COEX_SHIM_ABI_H

#include <stdint.h>

#define COEX_SHIM_EVENT_CAP 1u     /* an allocation hit a heap cap          */
#define COEX_SHIM_EVENT_FOREIGN 2u /* freed/reallocated a non-instance block */
typedef struct coex_shim_host {
    void *ctx;                                    /* the runtime's instance  */
    void *(*grow)(void *ctx, uint64_t committed); /* heap base, NULL at a cap */
    void (*foreign_free)(void *p);                /* the process's free      */
    void *(*foreign_realloc)(void *p, uint64_t n);
    int64_t tag;                                  /* handle tag, 1..2^23-1   */
} coex_shim_host;
typedef struct coex_shim_ops {
    uint32_t *(*init)(const coex_shim_host *host); /* returns the events word */
    void *(*alloc)(uint64_t n);
    void (*release)(void *p);
} coex_shim_ops;

#endif
