/* rt_tasks.c: `task for` on a bounded pool of OS threads, and deadlines.
 *
 * Each iteration is an isolated task: it runs with its own FFI scope (fresh
 * instances, see rt_ffi_scope.c) and its own yield list; the parent waits for all
 * iterations (the implicit barrier) and concatenates the yields in input
 * order, so the result never depends on scheduling. Threads are created with
 * GC_pthread_create (via GC_THREADS) so the collector scans their stacks,
 * with the same large stack and alternate signal stack as the thread
 * running coex_main (rt_stack.c). */
#include "coex_rt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct task_ctx {
    coex_list *yields;
} task_ctx;

typedef struct task_job {
    coex_list *items;
    coex_task_body body;
    int64_t *env;
    coex_list **results; /* GC array: yields of iteration i */
    int64_t kind;         /* what the yields are (COEX_KIND_*); set before the workers start */
    _Atomic int64_t next; /* next item to claim: fetch_add gives each worker distinct indices */
} task_job;

void coex_task_yield(void *ctx, int64_t v) {
    task_ctx *t = ctx;
    t->yields = coex_list_append(t->yields, v, t->yields->kind);
}

static void run_iterations(task_job *job) {
    for (;;) {
        int64_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->items->len) return;
        task_ctx ctx = {coex_list_new(1, job->kind)};
        coex_task_scope_enter();
        /* items is read-only while the tasks run: its holder waits in coex_task_for */
        job->body(job->env, coex_list_at(job->items, i), &ctx);
        coex_task_scope_exit();
        job->results[i] = ctx.yields;
    }
}

static void *worker(void *arg) {
    run_iterations(arg);
    return NULL;
}

static int64_t pool_size(void) {
    const char *env = getenv("COEX_THREADS");
    if (env && *env) {
        char *end;
        long long n = strtoll(env, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 1024) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? n : 1;
}

coex_list *coex_task_for(coex_list *items, coex_task_body body, int64_t *env, int64_t kind) {
    int64_t n = items->len;
    task_job job;
    job.items = items;
    job.body = body;
    job.env = env;
    job.kind = kind;
    job.results = GC_MALLOC((size_t)(n > 0 ? n : 1) * sizeof(coex_list *));
    if (!job.results) coex_rt_error("out of memory", NULL);
    atomic_init(&job.next, 0);

    int64_t threads = pool_size();
    if (threads > n) threads = n;
    coex_thread *ids = calloc((size_t)(threads > 0 ? threads : 1), sizeof(coex_thread));
    if (!ids) coex_rt_error("out of memory", NULL);
    int64_t started = 0;
    /* The parent is one of the workers; threads - 1 helpers join it. */
    for (int64_t t = 1; t < threads; t++) {
        if (coex_rt_thread_start(&ids[started], worker, &job) != 0) break;
        started++;
    }
    run_iterations(&job);
    for (int64_t t = 0; t < started; t++) coex_rt_thread_join(&ids[t]);
    free(ids);

    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += job.results[i]->len;
    coex_list *out = coex_list_new(total, kind);
    for (int64_t i = 0; i < n; i++) {
        coex_list *r = job.results[i];
        for (int64_t k = 0; k < r->len; k++) coex_list_append(out, coex_list_at(r, k), kind);
    }
    return out;
}

/* ---- deadlines ---------------------------------------------------------- */

#define MAX_WITHIN 64
static __thread int64_t within_deadlines[MAX_WITHIN];
/* exported for the FFI call fast path (coex_rt.h) */
__thread int coex_within_depth;
#define within_depth coex_within_depth

int64_t coex_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void coex_within_enter(int64_t ns) {
    int64_t deadline = coex_now_ns() + (ns > 0 ? ns : 0);
    /* an inner within never extends an outer deadline */
    if (within_depth > 0 && within_deadlines[within_depth - 1] < deadline)
        deadline = within_deadlines[within_depth - 1];
    if (within_depth < MAX_WITHIN) within_deadlines[within_depth] = deadline;
    within_depth++;
}

void coex_within_exit(void) {
    if (within_depth > 0) within_depth--;
}

int32_t coex_within_expired(void) {
    if (within_depth == 0) return 0;
    int d = within_depth <= MAX_WITHIN ? within_depth : MAX_WITHIN;
    return coex_now_ns() >= within_deadlines[d - 1];
}

int64_t coex_within_deadline(void) {
    if (within_depth == 0) return -1;
    int d = within_depth <= MAX_WITHIN ? within_depth : MAX_WITHIN;
    return within_deadlines[d - 1];
}
