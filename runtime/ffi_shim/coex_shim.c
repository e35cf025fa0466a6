/* coex_shim.c: linked INTO every FFI unit image (docs/ffi.md).
 *
 * It gives the unit's own C code an instance-local heap and handle table:
 *
 * - malloc & co. are defined here with hidden visibility, so the unit's
 *   references bind to them at link time (the image is also linked with
 *   -Bsymbolic). The heap is one address range reserved by the runtime per
 *   instance and committed on demand (`host.grow`, where the per-instance
 *   and process-wide caps are enforced); the runtime releases it wholesale
 *   when the instance is destroyed or reset. `free`/`realloc` of a pointer
 *   outside that range (memory glibc allocated on the library's behalf) is
 *   forwarded to the host's allocator and reported (the instance is then
 *   not reused from the pool).
 * - The handle table (coex_ffi.h) tags every handle with the instance's
 *   tag, so a handle from another instance, or a freed one, looks up NULL.
 *
 * An instance is used by one thread at a time, but a library may start its
 * own threads, so the heap takes a spin lock (uncontended: a few ns).
 * Compiled with -fno-builtin: the compiler must not turn the code below
 * into calls of the very functions it defines. The only state is in this
 * file's globals, which a pool reset restores to their load-time bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__)
#include <sched.h>
#endif

#include "coex_ffi.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

#include "coex_shim_abi.h"

/* ---- heap ---------------------------------------------------------------- */

#define ALIGN 16u
#define MAGIC 0xC0E7A11Cu
#define NCLASSES 13          /* 16 B .. 64 KiB, powers of two */
#define GROW_STEP (256u * 1024u)

typedef struct block_hdr {
    uint64_t size; /* usable bytes after this header             */
    uint32_t magic;
    uint32_t back; /* aligned blocks: offset back to the real header */
} block_hdr;

typedef struct free_node {
    struct free_node *next;
} free_node;

static coex_shim_host host;
static int have_host;
/* COEX_SHIM_EVENT_* bits, read and cleared by the runtime on other threads
 * (rt_ffi_call.c, rt_ffi_pool.c): every access is an __atomic builtin. */
static uint32_t events;
/* heap_base and heap_top are written only under heap_lock, atomically,
 * because ours() reads them without the lock. */
static char *heap_base;
static uint64_t heap_committed, heap_top;
static free_node *small_free[NCLASSES];
static free_node *large_free; /* large blocks (> 64 KiB), first fit */
static volatile int heap_lock;

/* A hint to the CPU that this thread is spinning. */
#if defined(__x86_64__) || defined(__i386__)
#define SPIN_HINT() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define SPIN_HINT() __asm__ __volatile__("yield" ::: "memory")
#else
#define SPIN_HINT() sched_yield()
#endif

/* The exchange acquires what the last holder released in unlock; the inner
 * relaxed load only waits (the exchange is retried before entering). */
static void lock(void) {
    while (__atomic_exchange_n(&heap_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&heap_lock, __ATOMIC_RELAXED)) SPIN_HINT();
}
/* Releases the heap state written under the lock to the next holder. */
static void unlock(void) { __atomic_store_n(&heap_lock, 0, __ATOMIC_RELEASE); }

/* Sets an event bit. Relaxed: the word is a set of sticky flags that orders
 * nothing else; the runtime reads it after the call returns on the caller's
 * thread, or after the instance is handed back. */
static void raise_event(uint32_t bit) { __atomic_or_fetch(&events, bit, __ATOMIC_RELAXED); }

static int size_class(uint64_t n) {
    uint64_t c = 16;
    for (int i = 0; i < NCLASSES; i++, c <<= 1)
        if (n <= c) return i;
    return -1;
}

static int ours(const void *p) {
    const char *c = p;
    /* Lock-free: the range only grows (same base each grow, heap_top rises),
     * and a block handed to this thread was allocated before, so a relaxed
     * read covers every block this thread can legitimately hold. */
    char *base = __atomic_load_n(&heap_base, __ATOMIC_RELAXED);
    uint64_t top = __atomic_load_n(&heap_top, __ATOMIC_RELAXED);
    return base && c >= base && c < base + top;
}

/* libc's memcpy/memset: stateless, never allocate (explicit builtins,
 * since -fno-builtin is on). */
static void copy_bytes(char *d, const char *s, uint64_t n) { __builtin_memcpy(d, s, n); }
static void zero_bytes(char *d, uint64_t n) { __builtin_memset(d, 0, n); }

/* A new block from the top of the heap; NULL at a cap. Lock held. */
static void *bump(uint64_t usable) {
    uint64_t need = sizeof(block_hdr) + usable;
    if (!have_host || need < usable) return NULL;
    if (heap_top + need > heap_committed) {
        uint64_t want = (heap_top + need + GROW_STEP - 1) / GROW_STEP * GROW_STEP;
        char *base = host.grow(host.ctx, want);
        if (!base) {
            raise_event(COEX_SHIM_EVENT_CAP);
            return NULL;
        }
        __atomic_store_n(&heap_base, base, __ATOMIC_RELAXED); /* lock held; see ours() */
        heap_committed = want;
    }
    block_hdr *h = (block_hdr *)(heap_base + heap_top);
    __atomic_store_n(&heap_top, heap_top + need, __ATOMIC_RELAXED); /* lock held; see ours() */
    h->size = usable;
    h->magic = MAGIC;
    h->back = 0;
    return h + 1;
}

static void *alloc_locked(uint64_t n) {
    if (n == 0) n = 1;
    int c = size_class(n);
    if (c >= 0) {
        if (small_free[c]) {
            free_node *f = small_free[c];
            small_free[c] = f->next;
            return f;
        }
        return bump((uint64_t)16 << c);
    }
    uint64_t usable = (n + ALIGN - 1) / ALIGN * ALIGN;
    if (usable < n) {
        raise_event(COEX_SHIM_EVENT_CAP);
        return NULL;
    }
    free_node **link = &large_free;
    for (free_node *f = large_free; f; link = &f->next, f = f->next) {
        block_hdr *h = (block_hdr *)f - 1;
        if (h->size >= usable && h->size - usable < usable) { /* < 2x waste */
            *link = f->next;
            return f;
        }
    }
    return bump(usable);
}

/* The real header of an instance block (aligned blocks point back). */
static block_hdr *header_of(void *p) {
    block_hdr *h = (block_hdr *)p - 1;
    if (h->back) h = (block_hdr *)((char *)h - h->back);
    return h;
}

static void release_locked(void *p) {
    block_hdr *h = header_of(p);
    if (h->magic != MAGIC) return; /* not a block start: ignore, never corrupt */
    free_node *f = (free_node *)(h + 1);
    int c = size_class(h->size);
    if (c >= 0 && ((uint64_t)16 << c) == h->size) {
        f->next = small_free[c];
        small_free[c] = f;
    } else {
        f->next = large_free;
        large_free = f;
    }
}

static uint64_t usable_of(void *p) {
    block_hdr *a = (block_hdr *)p - 1;
    if (!a->back) return a->size;
    block_hdr *h = header_of(p);
    return h->size - (uint64_t)((char *)p - (char *)(h + 1));
}

HIDDEN void *malloc(size_t n) {
    lock();
    void *p = alloc_locked(n);
    unlock();
    if (!p) errno = ENOMEM;
    return p;
}

HIDDEN void free(void *p) {
    if (!p) return;
    if (!ours(p)) {
        raise_event(COEX_SHIM_EVENT_FOREIGN);
        if (have_host) host.foreign_free(p);
        return;
    }
    lock();
    release_locked(p);
    unlock();
}

HIDDEN void *calloc(size_t n, size_t size) {
    if (size && n > (size_t)-1 / size) {
        errno = ENOMEM;
        return NULL;
    }
    char *p = malloc(n * size);
    if (p) zero_bytes(p, n * size);
    return p;
}

HIDDEN void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    if (!ours(p)) {
        raise_event(COEX_SHIM_EVENT_FOREIGN);
        return have_host ? host.foreign_realloc(p, n) : NULL;
    }
    if (n == 0) {
        free(p);
        return NULL;
    }
    uint64_t old = usable_of(p);
    if (n <= old) return p;
    char *q = malloc(n);
    if (!q) return NULL; /* the old block stays valid, as C requires */
    copy_bytes(q, p, old);
    free(p);
    return q;
}

HIDDEN void *memalign(size_t align, size_t n) {
    if (align <= ALIGN) return malloc(n);
    if (align & (align - 1)) {
        errno = EINVAL;
        return NULL;
    }
    if (n + align < n) {
        errno = ENOMEM;
        return NULL;
    }
    char *raw = malloc(n + align);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    if (a != (uintptr_t)raw) { /* a - raw >= 16: room for a back header */
        block_hdr *h = (block_hdr *)a - 1;
        h->size = n;
        h->magic = MAGIC;
        h->back = (uint32_t)((char *)h - ((char *)raw - sizeof(block_hdr)));
    }
    return (void *)a;
}

HIDDEN void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

HIDDEN int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

HIDDEN void *reallocarray(void *p, size_t n, size_t size) {
    if (size && n > (size_t)-1 / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

/* valloc/pvalloc: aligned to 4 KiB, the page size of x86-64 and of most
 * aarch64 systems (callers use it as an alignment, never map the pages). */
HIDDEN void *valloc(size_t n) { return memalign(4096, n); }

HIDDEN void *pvalloc(size_t n) {
    if (n > (size_t)-1 - 4095) {
        errno = ENOMEM;
        return NULL;
    }
    return memalign(4096, (n + 4095) & ~(size_t)4095);
}

HIDDEN size_t malloc_usable_size(void *p) {
    if (!p || !ours(p)) return 0;
    return usable_of(p);
}

HIDDEN char *strdup(const char *s) {
    uint64_t n = 0;
    while (s[n]) n++;
    char *d = malloc(n + 1);
    if (d) copy_bytes(d, s, n + 1);
    return d;
}

HIDDEN char *strndup(const char *s, size_t max) {
    uint64_t n = 0;
    while (n < max && s[n]) n++;
    char *d = malloc(n + 1);
    if (d) {
        copy_bytes(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* ---- handles ------------------------------------------------------------- */

/* handle = tag << 40 | generation << 20 | (slot + 1); bit 63 stays 0. */
#define SLOT_BITS 20
#define GEN_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define GEN_MASK ((1u << GEN_BITS) - 1)
#define TAG_MASK ((1u << 23) - 1)

typedef struct handle_slot {
    void *ptr;
    uint32_t gen;
    uint32_t used;
} handle_slot;

static handle_slot *handles;
static uint32_t handle_cap, handle_scan;

static handle_slot *handle_lookup(int64_t h) {
    if (h <= 0 || !have_host) return NULL;
    uint64_t u = (uint64_t)h;
    uint32_t slot = (uint32_t)(u & SLOT_MASK);
    uint32_t gen = (uint32_t)((u >> SLOT_BITS) & GEN_MASK);
    uint64_t tag = (u >> (SLOT_BITS + GEN_BITS)) & TAG_MASK;
    if (tag != ((uint64_t)host.tag & TAG_MASK) || slot == 0 || slot > handle_cap) return NULL;
    handle_slot *s = &handles[slot - 1];
    return (s->used && s->gen == gen) ? s : NULL;
}

EXPORT int64_t coex_handle_new(void *ptr) {
    if (!have_host) return 0;
    uint32_t i = 0;
    for (uint32_t k = 0; k < handle_cap; k++) {
        i = (handle_scan + k) % handle_cap;
        if (!handles[i].used) goto found;
    }
    {
        uint32_t cap = handle_cap ? handle_cap * 2 : 16;
        if (cap > SLOT_MASK) cap = SLOT_MASK;
        if (cap <= handle_cap) return 0;
        handle_slot *grown = realloc(handles, (size_t)cap * sizeof(handle_slot));
        if (!grown) return 0;
        zero_bytes((char *)(grown + handle_cap), (uint64_t)(cap - handle_cap) * sizeof(handle_slot));
        i = handle_cap;
        handles = grown;
        handle_cap = cap;
    }
found:
    handle_scan = i + 1;
    handles[i].used = 1;
    handles[i].ptr = ptr;
    handles[i].gen = (handles[i].gen + 1) & GEN_MASK;
    return (int64_t)(((uint64_t)host.tag & TAG_MASK) << (SLOT_BITS + GEN_BITS) |
                     (uint64_t)handles[i].gen << SLOT_BITS | (uint64_t)(i + 1));
}

EXPORT void *coex_handle_get(int64_t handle) {
    handle_slot *s = handle_lookup(handle);
    return s ? s->ptr : NULL;
}

EXPORT void *coex_handle_free(int64_t handle) {
    handle_slot *s = handle_lookup(handle);
    if (!s) return NULL;
    void *p = s->ptr;
    s->used = 0;
    s->ptr = NULL;
    return p;
}

/* ---- the runtime's entry point -------------------------------------------- */

static uint32_t *shim_init(const coex_shim_host *h) {
    host = *h;
    have_host = 1;
    return &events;
}

static void *shim_alloc(uint64_t n) { return malloc(n); }
static void shim_release(void *p) { free(p); }

EXPORT const coex_shim_ops coex_shim_v1 = {shim_init, shim_alloc, shim_release};
