/* rt_within.c: `within` deadlines and how Coex code leaves for `else`.
 *
 * Each thread keeps a stack of deadlines (CLOCK_MONOTONIC ns; an inner one
 * never later than its enclosing one). Generated code stops at check points
 * (function entry, loop headers, after calls that may unwind) of code that
 * may run under a deadline and reads one global word, coex_within_pending:
 * zero (the usual case) means go on. A watcher thread sleeps until the
 * earliest armed deadline of all threads and, when one passes, marks that
 * thread pending and raises the word; the thread's next check calls
 * coex_within_poll, which names the level to unwind to: the outermost
 * `within` whose deadline has passed. Generated code then returns early from
 * every Coex frame up to the function holding that `within` and jumps to its
 * else branch, which calls coex_within_leave(level). No longjmp: each frame
 * returns normally, so FFI scopes close as on any return (docs/runtime.md,
 * "Deadlines").
 *
 * The check is a plain load + branch (no thread-local access): other
 * threads pay a runtime call per check only while some thread has a
 * deadline to handle, which lasts until it reaches its else branch. */
#define _GNU_SOURCE
#include "coex_rt.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#undef pthread_create /* the watcher is not a GC thread: it touches no GC memory */

#define MAX_WITHIN 64
#define NEVER INT64_MAX

/* One thread's deadlines. Only the owning thread touches deadlines,
 * unwind_to and armed_local; armed, prev and next are read and written
 * under watch_lock only; listed is written by the owner under watch_lock
 * (so the owner reads it without); pending is shared, see raise_pending. */
typedef struct within_thread {
    int64_t deadlines[MAX_WITHIN];
    int64_t unwind_to;   /* level being unwound to, -1: none              */
    int64_t armed_local; /* the deadline this thread last armed           */
    int64_t armed;       /* when the watcher fires this thread, or NEVER  */
    _Atomic int32_t pending;
    int listed;
    struct within_thread *prev, *next;
} within_thread;

static __thread within_thread me = {.unwind_to = -1, .armed_local = NEVER, .armed = NEVER};
/* Number of active `within` blocks on this thread (also read by the FFI
 * call path: a deadline is active when nonzero). */
__thread int coex_within_depth;
#define depth coex_within_depth

/* Number of threads with pending set (plus one, forever, when the watcher
 * could not be started). Generated code only reads it. */
_Atomic int32_t coex_within_pending;

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static pthread_key_t watch_key;
static within_thread *watched;       /* under watch_lock */
static int64_t watch_target = NEVER; /* when the watcher wakes next; under watch_lock */
static int no_watcher; /* written once in watch_start; read after this thread's own arm (pthread_once) */

int64_t coex_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void raise_pending(within_thread *t) {
    /* exchange: only the 0 -> 1 change counts, whoever (watcher, owner) makes it */
    if (atomic_exchange(&t->pending, 1) == 0) atomic_fetch_add(&coex_within_pending, 1);
}

static void clear_pending(within_thread *t) {
    /* exchange: only the 1 -> 0 change uncounts, so the sum stays exact */
    if (atomic_exchange(&t->pending, 0) == 1) atomic_fetch_sub(&coex_within_pending, 1);
}

static void *watcher_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    for (;;) {
        int64_t now = coex_now_ns(), next = NEVER;
        for (within_thread *t = watched; t; t = t->next) {
            if (t->armed <= now) {
                t->armed = NEVER;
                raise_pending(t);
            } else if (t->armed < next) {
                next = t->armed;
            }
        }
        watch_target = next;
        if (next == NEVER) {
            pthread_cond_wait(&watch_cond, &watch_lock);
        } else {
            struct timespec until = {(time_t)(next / 1000000000), (long)(next % 1000000000)};
            pthread_cond_timedwait(&watch_cond, &watch_lock, &until);
        }
    }
    return NULL;
}

/* A thread that had deadlines exits: the watcher forgets it. */
static void forget_thread(void *p) {
    within_thread *t = p;
    pthread_mutex_lock(&watch_lock);
    if (t->prev) t->prev->next = t->next;
    else watched = t->next;
    if (t->next) t->next->prev = t->prev;
    t->listed = 0;
    pthread_mutex_unlock(&watch_lock);
    clear_pending(t);
}

static void watch_start(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&watch_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_t id;
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    if (pthread_key_create(&watch_key, forget_thread) != 0 ||
        pthread_create(&id, &ta, watcher_main, NULL) != 0) {
        /* no watcher: every check calls coex_within_poll, which reads the clock */
        no_watcher = 1;
        atomic_fetch_add(&coex_within_pending, 1); /* never taken back: pending forever */
    }
    pthread_attr_destroy(&ta);
}

/* Have the watcher mark this thread pending at `deadline` (or earlier). */
static void arm(int64_t deadline) {
    pthread_once(&watch_once, watch_start);
    me.armed_local = deadline;
    if (no_watcher) return;
    pthread_mutex_lock(&watch_lock);
    if (!me.listed) {
        me.next = watched;
        me.prev = NULL;
        if (watched) watched->prev = &me;
        watched = &me;
        me.listed = 1;
        pthread_setspecific(watch_key, &me);
    }
    me.armed = deadline;
    if (deadline < watch_target) {
        watch_target = deadline;
        pthread_cond_signal(&watch_cond);
    }
    pthread_mutex_unlock(&watch_lock);
}

/* The last within ended: nothing for the watcher to fire on this thread. */
static void disarm(void) {
    me.armed_local = NEVER;
    if (me.listed) {
        /* after this the watcher cannot fire the old deadline any more */
        pthread_mutex_lock(&watch_lock);
        me.armed = NEVER;
        pthread_mutex_unlock(&watch_lock);
    }
    clear_pending(&me);
}

static int64_t innermost(void) {
    return me.deadlines[(depth <= MAX_WITHIN ? depth : MAX_WITHIN) - 1];
}

/* The outermost level whose deadline has passed at `now`, or -1. */
static int64_t expired_level(int64_t now) {
    int n = depth <= MAX_WITHIN ? depth : MAX_WITHIN;
    for (int i = 0; i < n; i++)
        if (me.deadlines[i] <= now) return i;
    return -1;
}

static int64_t push_deadline(int64_t deadline) {
    /* an inner within never extends an outer deadline */
    if (depth > 0 && innermost() < deadline) deadline = innermost();
    int64_t level = depth;
    if (depth < MAX_WITHIN) me.deadlines[depth] = deadline;
    depth++;
    if (level < MAX_WITHIN && deadline < me.armed_local) arm(deadline);
    return level;
}

int64_t coex_within_enter(int64_t ns) {
    int64_t now = coex_now_ns();
    int64_t deadline = ns <= 0 ? now : (ns > NEVER - 1 - now ? NEVER - 1 : now + ns);
    int64_t level = push_deadline(deadline);
    coex_ffi_refresh_fast(); /* calls under a deadline take the full path */
    return level;
}

int64_t coex_within_enter_at(int64_t deadline) { return push_deadline(deadline); }

void coex_within_leave(int64_t level) {
    if (level < 0) level = 0;
    if (level > depth) level = depth;
    depth = (int)level;
    int ended_unwind = me.unwind_to >= level;
    if (ended_unwind) me.unwind_to = -1;
    if (depth == 0) {
        disarm();
    } else if (ended_unwind) {
        clear_pending(&me);
        if (depth <= MAX_WITHIN) arm(innermost());
    }
    coex_ffi_refresh_fast();
}

static void begin_unwind(int64_t level) {
    me.unwind_to = level;
    raise_pending(&me);
}

int64_t coex_within_poll(void) {
    if (me.unwind_to >= 0) return me.unwind_to;
    if (depth == 0) return -1;
    /* pending: set by the watcher or by this thread, cleared only here */
    if (!no_watcher && !atomic_load(&me.pending)) return -1;
    clear_pending(&me);
    int64_t level = expired_level(coex_now_ns());
    if (level >= 0) {
        begin_unwind(level);
        return level;
    }
    /* an inner deadline that no longer applies fired: wait for the current one */
    if (depth <= MAX_WITHIN) arm(innermost());
    return -1;
}

#if defined(__x86_64__)
/* coex_within_check(int64_t *out): *out = coex_within_poll(), every register
 * kept (Cranelift's preserve_all convention), so a check point in a loop
 * does not make the loop keep its values in callee-saved registers. Saves
 * the caller-saved general registers and xmm0-15 (generated code uses no
 * wider vectors) around the call; the stack stays 16-byte aligned. */
#define SAVE_XMM(n) "movdqu %xmm" #n ", " #n "*16(%rsp)\n"
#define LOAD_XMM(n) "movdqu " #n "*16(%rsp), %xmm" #n "\n"
#define XMMS(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) \
    op(8) op(9) op(10) op(11) op(12) op(13) op(14) op(15)
__asm__(".text\n"
        ".globl coex_within_check\n"
        ".type coex_within_check, @function\n"
        ".p2align 4\n"
        "coex_within_check:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "mov %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "push %rax\n push %rcx\n push %rdx\n push %rsi\n push %rdi\n"
        "push %r8\n push %r9\n push %r10\n push %r11\n"
        "sub $264, %rsp\n" /* 16 xmm + 8: aligned again after 9 pushes */
        XMMS(SAVE_XMM)
        "call coex_within_poll@PLT\n"
        "mov 296(%rsp), %rdi\n" /* the saved rdi: out */
        "mov %rax, (%rdi)\n"
        XMMS(LOAD_XMM)
        "add $264, %rsp\n"
        "pop %r11\n pop %r10\n pop %r9\n pop %r8\n"
        "pop %rdi\n pop %rsi\n pop %rdx\n pop %rcx\n pop %rax\n"
        "pop %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size coex_within_check, .-coex_within_check\n");
#endif

void coex_within_expire_now(void) {
    if (me.unwind_to >= 0 || depth == 0) return;
    int64_t level = expired_level(coex_now_ns());
    if (level < 0) level = (depth <= MAX_WITHIN ? depth : MAX_WITHIN) - 1;
    begin_unwind(level);
}

int coex_within_unwinding(void) { return me.unwind_to >= 0; }

int64_t coex_within_deadline(void) { return depth == 0 ? -1 : innermost(); }
