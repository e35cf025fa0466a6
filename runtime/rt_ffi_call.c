/* rt_ffi_call.c: one extern call — the callable pointer, argument copies
 * into the instance heap, the foreign call, string results,
 * ResourceExhausted, and abandonment at a `within` deadline.
 *
 * Most calls never get here: generated code calls the C function inline
 * through the thread's call table (coex_ffi_thread, docs/ffi.md "The call
 * fast path") and only calls coex_ffi_cap_hit when the library hit a heap
 * cap. The full path below serves the rest; generated code calls, in
 * order: coex_ffi_fn (instance + symbol; remembers the select status
 * pointer), coex_ffi_str_arg per string argument (copies
 * checked against the heap caps before the call), coex_ffi_invoke,
 * coex_ffi_str_ret, coex_ffi_release_args. Inside `select`, a failure at
 * any of these steps sets *status = 1 and the generated code takes the
 * `case ResourceExhausted` arm (copies already released); outside it, the
 * program stops with the guide's "FFI resource exhausted" error. */
#define _GNU_SOURCE
#include "coex_rt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#undef pthread_create /* helper threads are not GC threads, see timed_call_run */
#undef pthread_detach
#undef pthread_join

/* The call in progress on this thread (set by coex_ffi_fn). */
static __thread ffi_instance *call_instance;
static __thread int64_t call_unit;
static __thread int32_t *call_status;
static __thread const coex_loc *call_loc;
static __thread int call_failed;
/* The full-path call's site, pointed at by coex_ffi_thread_state.site while
 * its C function runs (the crash handler names it). Own thread only. */
static __thread coex_ffi_site call_site;

/* The generated fast path: one load of the thread's call table, one load of
 * the function pointer, a test of the instance's event word, a direct
 * indirect call (no runtime call). */
__thread coex_ffi_thread coex_ffi_thread_state;
_Static_assert(offsetof(coex_ffi_thread, fast) == 0, "ffi.rs THREAD_FAST");
_Static_assert(offsetof(coex_ffi_thread, site) == 8, "ffi.rs THREAD_SITE");
_Static_assert(sizeof(coex_ffi_site) == 24 && offsetof(coex_ffi_site, loc) == 16,
               "object.rs ffi_site layout");
/* String argument copies of the call (in call_instance's heap, or in the
 * process heap when the image has no shim). */
static __thread char **arg_copies;
static __thread int64_t arg_count, arg_cap;

static const char select_hint[] =
    "Handle this with select:\n"
    "\n"
    "    select\n"
    "        case result = extern_function(args):\n"
    "            # success\n"
    "        ~\n"
    "        case ResourceExhausted:\n"
    "            # handle backpressure\n"
    "        ~\n"
    "    ~\n";

_Noreturn void coex_ffi_exhausted(const coex_loc *loc, int heap) {
    char body[1024];
    snprintf(body, sizeof body, "%s\n\n%s",
             heap ? "Cannot allocate in the FFI instance heap: heap cap reached "
                    "(COEX_FFI_INSTANCE_HEAP_MAX / COEX_FFI_TOTAL_HEAP_MAX)."
                  : "Cannot create FFI instance: system memory pressure.",
             select_hint);
    coex_rt_error_body("FFI resource exhausted", body, loc);
}

void *coex_ffi_fn(int64_t unit, int64_t sym, int32_t *status, const coex_loc *loc) {
    call_status = status;
    call_loc = loc;
    call_failed = 0;
    call_site = (coex_ffi_site){unit, sym, loc};
    ffi_scope *scope = coex_ffi_current_scope;
    ffi_instance *inst = scope ? scope->instances[unit] : NULL;
    if (!inst) inst = coex_ffi_scope_instance(unit, loc);
    call_instance = inst;
    call_unit = unit;
    if (!inst) {
        if (!status) coex_ffi_exhausted(loc, 0);
        *status = 1;
        call_failed = 1;
        return NULL;
    }
    if (status) *status = 0;
    return inst->syms[sym];
}

static void free_copy(ffi_instance *inst, char *p) {
    if (inst && inst->shim) inst->shim->release(p);
    else free(p);
}

void coex_ffi_release_args(void) {
    for (int64_t i = 0; i < arg_count; i++) free_copy(call_instance, arg_copies[i]);
    arg_count = 0;
}

/* A step of the call ran out of heap: give up the call. */
static void call_exhausted(void) {
    coex_ffi_release_args();
    if (call_instance) call_instance->taint |= COEX_TAINT_CAP;
    if (!call_status) coex_ffi_exhausted(call_loc, 1);
    *call_status = 1;
    call_failed = 1;
}

const char *coex_ffi_str_arg(const coex_str *s) {
    if (call_failed) return NULL;
    ffi_instance *inst = call_instance;
    uint64_t n = (uint64_t)s->len + 1;
    char *copy = (inst && inst->shim) ? inst->shim->alloc(n) : malloc(n);
    if (!copy) {
        call_exhausted();
        return NULL;
    }
    memcpy(copy, s->bytes, n);
    if (arg_count == arg_cap) {
        int64_t cap = arg_cap ? arg_cap * 2 : 8;
        char **grown = realloc(arg_copies, (size_t)cap * sizeof(char *));
        if (!grown) coex_rt_error("out of memory", NULL);
        arg_copies = grown;
        arg_cap = cap;
    }
    arg_copies[arg_count++] = copy;
    return copy;
}

coex_str *coex_ffi_str_ret(const char *p) {
    coex_str *s = coex_str_from_cstr(p);
    /* Release: the copy's bytes are visible before the pointer is shared. */
    atomic_thread_fence(memory_order_release);
    return s;
}

void coex_ffi_cap_hit(int64_t unit, int32_t *status, const coex_loc *loc) {
    ffi_scope *s = coex_ffi_current_scope;
    ffi_instance *inst = s ? s->instances[unit] : NULL;
    if (inst) {
        inst->taint |= COEX_TAINT_CAP;
        /* The shim sets bits with atomic or; clearing ours must not lose one. */
        if (inst->events) __atomic_and_fetch(inst->events, ~COEX_SHIM_EVENT_CAP, __ATOMIC_RELAXED);
    }
    if (!status) coex_ffi_exhausted(loc, 1);
    *status = 1;
}

typedef struct invoke_args {
    coex_ffi_tramp tramp;
    void *fn;
    int64_t *slots;
} invoke_args;

static void *run_blocking(void *data) {
    invoke_args *a = data;
    a->tramp(a->fn, a->slots);
    return NULL;
}

/* The call itself. The thread stays a normal collector thread: a
 * collection stops it with Boehm's suspend signal wherever the C code is
 * (it holds no GC pointers: the air gap), so the collector never waits for
 * the call to finish. GC_do_blocking would keep
 * the collector from even signalling the thread, but costs a syscall per
 * call (getcontext's sigprocmask, ~250 ns); COEX_FFI_GC_BLOCKING=1 turns it
 * on for libraries whose blocking system calls cannot take an EINTR. */
__attribute__((noinline, cold)) static void run_blocking_call(coex_ffi_tramp tramp, void *fn,
                                                              int64_t *slots) {
    invoke_args a = {tramp, fn, slots};
    GC_do_blocking(run_blocking, &a);
}

/* The site is set and cleared by this thread only; the handler that reads
 * it runs on this thread, and the opaque call keeps the stores around it. */
static inline void run_call(coex_ffi_tramp tramp, void *fn, int64_t *slots) {
    coex_ffi_thread_state.site = &call_site;
    if (__builtin_expect(coex_ffi_settings.gc_blocking, 0)) run_blocking_call(tramp, fn, slots);
    else tramp(fn, slots);
    coex_ffi_thread_state.site = NULL;
}

/* A call running on a helper thread under a deadline. */
typedef struct timed_call {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
    int abandoned;
    coex_ffi_tramp tramp;
    void *fn;
    ffi_instance *inst;   /* owned by the call once abandoned            */
    coex_ffi_site site;   /* the caller's call, for the crash handler    */
    char **args;          /* process-heap string copies (no-shim images) */
    int64_t nargs;
    int64_t nslots;
    int64_t slots[];
} timed_call;

static void timed_call_free(timed_call *c) {
    for (int64_t i = 0; i < c->nargs; i++) free(c->args[i]);
    free(c->args);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->done_cond);
    free(c);
}

/* The call on a helper thread (under a deadline). The helper is a plain
 * pthread, not registered with the collector (gc.h redirects
 * pthread_create; not here): it touches no GC memory, so a collection never
 * signals or waits for it, even while an abandoned call runs on. */
static void timed_call_run(timed_call *c) {
    coex_ffi_thread_state.site = &c->site; /* as in run_call, this thread's own */
    c->tramp(c->fn, c->slots);
    coex_ffi_thread_state.site = NULL;
    pthread_mutex_lock(&c->lock);
    c->done = 1;
    int abandoned = c->abandoned;
    pthread_cond_signal(&c->done_cond);
    pthread_mutex_unlock(&c->lock);
    if (abandoned) {
        /* the caller has left: this thread was the last one inside the image */
        atomic_fetch_add(&coex_ffi_stats.abandoned_destroyed, 1); /* a count, read at exit */
        coex_ffi_release(c->inst); /* tainted: destroyed, never pooled */
        /* Paired with the add in invoke_with_deadline; read by coex_ffi_acquire's limit. */
        atomic_fetch_sub(&coex_ffi_stats.abandoned_running, 1);
        timed_call_free(c);
    }
}

/* Helper threads, kept idle between calls (a thread start per call would
 * cost ~50 µs): at most MAX_IDLE_HELPERS wait for work; more exit. */
#define MAX_IDLE_HELPERS 8

typedef struct helper {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    timed_call *job;
    struct helper *next;
} helper;

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static helper *idle_helpers;
static int idle_count;

static void *helper_main(void *arg) {
    helper *h = arg;
    coex_rt_thread_enter(); /* an overflow in the C call is reported too */
    for (;;) {
        pthread_mutex_lock(&h->lock);
        while (!h->job) pthread_cond_wait(&h->wake, &h->lock);
        timed_call *c = h->job;
        h->job = NULL;
        pthread_mutex_unlock(&h->lock);
        timed_call_run(c);
        pthread_mutex_lock(&idle_lock);
        int keep = idle_count < MAX_IDLE_HELPERS;
        if (keep) {
            h->next = idle_helpers;
            idle_helpers = h;
            idle_count++;
        }
        pthread_mutex_unlock(&idle_lock);
        if (!keep) {
            coex_rt_thread_exit();
            pthread_mutex_destroy(&h->lock);
            pthread_cond_destroy(&h->wake);
            free(h);
            return NULL;
        }
    }
}

/* Hand c to an idle helper or a new one; -1 when no thread can be had. */
static int helper_start(timed_call *c) {
    pthread_mutex_lock(&idle_lock);
    helper *h = idle_helpers;
    if (h) {
        idle_helpers = h->next;
        idle_count--;
    }
    pthread_mutex_unlock(&idle_lock);
    if (h) {
        pthread_mutex_lock(&h->lock);
        h->job = c;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    h = calloc(1, sizeof(helper));
    if (!h) return -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    h->job = c;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t id;
    int rc = pthread_create(&id, &attr, helper_main, h);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->wake);
        free(h);
        return -1;
    }
    return 0;
}

/* Run the call on a helper thread and wait until it returns or the deadline
 * passes; at the deadline the call is abandoned (see coex_rt.h). */
static void invoke_with_deadline(coex_ffi_tramp tramp, void *fn, int64_t *slots,
                                 int64_t nslots, int64_t deadline) {
    timed_call *c = calloc(1, sizeof(timed_call) + (size_t)nslots * sizeof(int64_t));
    if (!c) coex_rt_error("out of memory", NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->done_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&c->lock, NULL);
    c->tramp = tramp;
    c->fn = fn;
    c->inst = call_instance;
    c->site = call_site;
    c->nslots = nslots;
    memcpy(c->slots, slots, (size_t)nslots * sizeof(int64_t));

    if (helper_start(c) != 0) {
        /* no thread to spare: run it here, without a deadline */
        run_call(tramp, fn, slots);
        timed_call_free(c);
        return;
    }
    struct timespec until = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    pthread_mutex_lock(&c->lock);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->done_cond, &c->lock, &until) == ETIMEDOUT && !c->done) break;
    }
    if (c->done) {
        pthread_mutex_unlock(&c->lock);
        memcpy(slots, c->slots, (size_t)nslots * sizeof(int64_t));
        timed_call_free(c);
        return;
    }
    /* Abandon: the helper owns the instance (and its heap, where the string
     * copies live) now; process-heap copies go with it too. */
    c->abandoned = 1;
    c->inst->taint |= COEX_TAINT_ABANDONED;
    if (!c->inst->shim) {
        c->args = arg_copies;
        c->nargs = arg_count;
        arg_copies = NULL;
        arg_cap = 0;
    }
    arg_count = 0;
    coex_ffi_scope_detach(call_unit, c->inst);
    call_instance = NULL;
    atomic_fetch_add(&coex_ffi_stats.abandoned, 1); /* a count, read only at exit */
    /* Paired with the sub in timed_call_run once the helper destroyed c->inst. */
    atomic_fetch_add(&coex_ffi_stats.abandoned_running, 1);
    pthread_mutex_unlock(&c->lock);
    slots[0] = 0;
}

#define COLD __attribute__((noinline, cold))

/* The library ran into a heap cap during the call: ResourceExhausted. */
COLD static void cap_hit_during_call(void) { call_exhausted(); }

/* A call while a `within` deadline is active (off the fast path). */
COLD static void invoke_under_deadline(coex_ffi_tramp tramp, void *fn, int64_t *slots,
                                       int64_t nslots, uint32_t *ev) {
    int64_t deadline = coex_within_deadline();
    if (deadline >= 0 && coex_now_ns() >= deadline) {
        slots[0] = 0; /* not started: the deadline has passed */
        coex_within_expire_now();
        return;
    }
    if (deadline >= 0) {
        invoke_with_deadline(tramp, fn, slots, nslots > 0 ? nslots : 1, deadline);
        if (!call_instance) {
            /* abandoned: generated code leaves for the else branch */
            coex_within_expire_now();
            return;
        }
    } else {
        run_call(tramp, fn, slots);
    }
    /* Relaxed: a bit the shim set on this thread during the call is seen in
     * program order; one from a library's own thread may show at a later call. */
    if (ev && (__atomic_load_n(ev, __ATOMIC_RELAXED) & COEX_SHIM_EVENT_CAP)) cap_hit_during_call();
}

void coex_ffi_invoke(coex_ffi_tramp tramp, void *fn, int64_t *slots, int64_t nslots) {
    ffi_instance *inst = call_instance;
    if (__builtin_expect(call_failed || !inst, 0)) return;
    uint32_t *ev = inst->events;
    /* A cap bit left by an earlier call is cleared (atomic and: the shim's
     * other bits survive) so the test after this call sees only its own. */
    if (ev && __builtin_expect(__atomic_load_n(ev, __ATOMIC_RELAXED) & COEX_SHIM_EVENT_CAP, 0))
        __atomic_and_fetch(ev, ~COEX_SHIM_EVENT_CAP, __ATOMIC_RELAXED);
    if (__builtin_expect(coex_within_depth != 0, 0)) {
        invoke_under_deadline(tramp, fn, slots, nslots, ev);
        return;
    }
    run_call(tramp, fn, slots);
    /* Same reasoning as in invoke_under_deadline. */
    if (ev && __builtin_expect(__atomic_load_n(ev, __ATOMIC_RELAXED) & COEX_SHIM_EVENT_CAP, 0))
        cap_hit_during_call();
}
