/* rt_stack.c: the stacks Coex code runs on.
 *
 * coex_main runs on a thread of its own with a COEX_STACK_SIZE (256 MiB)
 * stack, not on the process's main stack (8 MiB by default, set by
 * RLIMIT_STACK before the program starts): so 1,000,000-deep recursion
 * works without re-executing the program under a larger limit. `task for`
 * workers get the same stack. The size is reserved address space; only the
 * pages a recursion reaches are used. Every Coex thread also has an
 * alternate signal stack, so the crash handler (rt_crash.c) can still run
 * when the thread's own stack is exhausted; sigaltstack is per thread.
 *
 * One mapping holds both: [page guard][alternate stack][guard][stack]. The
 * mappings are kept for reuse once their thread is joined (glibc caches
 * only 40 MiB of thread stacks, so it would map and unmap 256 MiB for every
 * `task for` thread: twice the cost of a thread start); a kept mapping's
 * used pages are given back to the kernel (MADV_DONTNEED). */
#define _GNU_SOURCE
#include "coex_rt.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALT_STACK_SIZE ((size_t)64 << 10)
/* Below each Coex thread's stack. Cranelift probes frames larger than 4 KiB
 * page by page (src/codegen/object.rs), so no generated frame skips it. */
#define STACK_GUARD ((size_t)64 << 10)
/* Kept at the top when a mapping is given back: glibc's TLS and thread
 * descriptor live there, rewritten at every thread start anyway. */
#define STACK_TOP_KEPT ((size_t)64 << 10)
#define MAX_KEPT_STACKS 64

/* Invariant: written only by the owning thread (coex_rt_thread_enter,
 * thread_main) and read by that thread's crash handler, on the same thread. */
__thread uintptr_t coex_stack_lo, coex_stack_hi;
/* This thread's own alternate stack mapping (threads not started by
 * coex_rt_thread_start); NULL when none. Owning thread only. */
static __thread unsigned char *alt_map;
/* 1 while this thread has an alternate stack registered. Owning thread only. */
static __thread int alt_on;

static size_t page_size(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static int use_alt_stack(unsigned char *sp) {
    stack_t ss = {.ss_sp = sp, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    alt_on = sigaltstack(&ss, NULL) == 0;
    return alt_on;
}

static void record_bounds(void) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
    void *addr;
    size_t size;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        coex_stack_lo = (uintptr_t)addr;
        coex_stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

void coex_rt_thread_enter(void) {
    record_bounds();
    if (alt_on) return;
    size_t page = page_size();
    unsigned char *m = mmap(NULL, ALT_STACK_SIZE + page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    /* Without an alternate stack only an overflow goes unreported (the
     * kernel then ends the process with SIGSEGV); other crashes are caught. */
    if (m == MAP_FAILED) return;
    mprotect(m, page, PROT_NONE);
    if (use_alt_stack(m + page)) alt_map = m;
    else munmap(m, ALT_STACK_SIZE + page);
}

void coex_rt_thread_exit(void) {
    if (alt_on) {
        stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        alt_on = 0;
    }
    if (alt_map) munmap(alt_map, ALT_STACK_SIZE + page_size());
    alt_map = NULL;
}

/* ---- stack mappings ------------------------------------------------------ */

struct coex_stack_map {
    struct coex_stack_map *next;
    unsigned char *base; /* the mapping, layout in the file comment */
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static coex_stack_map *kept; /* under kept_lock */
static int kept_count;       /* under kept_lock */

static size_t map_len(void) { return page_size() + ALT_STACK_SIZE + STACK_GUARD + COEX_STACK_SIZE; }
static unsigned char *map_stack(coex_stack_map *s) { return s->base + map_len() - COEX_STACK_SIZE; }

static coex_stack_map *stack_get(void) {
    pthread_mutex_lock(&kept_lock);
    coex_stack_map *s = kept;
    if (s) {
        kept = s->next;
        kept_count--;
    }
    pthread_mutex_unlock(&kept_lock);
    if (s) return s;
    s = malloc(sizeof *s);
    if (!s) return NULL;
    size_t page = page_size();
    /* PROT_NONE first: the reservation is not charged as committed memory
     * until the usable parts are opened below. */
    s->base = mmap(NULL, map_len(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->base == MAP_FAILED ||
        mprotect(s->base + page, ALT_STACK_SIZE, PROT_READ | PROT_WRITE) != 0 ||
        mprotect(map_stack(s), COEX_STACK_SIZE, PROT_READ | PROT_WRITE) != 0) {
        if (s->base != MAP_FAILED) munmap(s->base, map_len());
        free(s);
        return NULL;
    }
    return s;
}

/* After the join: nobody runs on s any more. */
static void stack_put(coex_stack_map *s) {
    madvise(map_stack(s), COEX_STACK_SIZE - STACK_TOP_KEPT, MADV_DONTNEED);
    pthread_mutex_lock(&kept_lock);
    int keep = kept_count < MAX_KEPT_STACKS;
    if (keep) {
        s->next = kept;
        kept = s;
        kept_count++;
    }
    pthread_mutex_unlock(&kept_lock);
    if (!keep) {
        munmap(s->base, map_len());
        free(s);
    }
}

/* ---- threads ------------------------------------------------------------- */

static void *thread_main(void *arg) {
    coex_thread *t = arg;
    if (t->stack) {
        coex_stack_lo = (uintptr_t)map_stack(t->stack);
        coex_stack_hi = coex_stack_lo + COEX_STACK_SIZE;
        use_alt_stack(t->stack->base + page_size());
    } else {
        coex_rt_thread_enter();
    }
    void *r = t->fn(t->arg);
    /* A kept mapping may stay registered: the registration ends with the
     * thread, the mapping only after the join. */
    if (t->stack) alt_on = 0;
    else coex_rt_thread_exit();
    return r;
}

int coex_rt_thread_start(coex_thread *t, void *(*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    t->stack = stack_get();
    int rc = -1;
    pthread_attr_t attr;
    if (t->stack && pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstack(&attr, map_stack(t->stack), COEX_STACK_SIZE) == 0)
            rc = pthread_create(&t->id, &attr, thread_main, t);
        pthread_attr_destroy(&attr);
    }
    if (rc == 0) return 0;
    if (t->stack) stack_put(t->stack);
    /* Address space or overcommit limits: a default stack beats no thread. */
    t->stack = NULL;
    return pthread_create(&t->id, NULL, thread_main, t);
}

void coex_rt_thread_join(coex_thread *t) {
    pthread_join(t->id, NULL);
    if (t->stack) stack_put(t->stack);
    t->stack = NULL;
}

static void *main_thread(void *arg) {
    *(int64_t *)arg = coex_main();
    return NULL;
}

int64_t coex_rt_run_main(void) {
    int64_t status = 0;
    coex_thread t;
    if (coex_rt_thread_start(&t, main_thread, &status) != 0) return coex_main();
    /* The join orders the thread's write of status before this read. */
    coex_rt_thread_join(&t);
    return status;
}
