/* rt_tasks.c: `task for` on a bounded pool of OS threads.
 *
 * Each iteration is an isolated task: it runs with its own FFI scope (fresh
 * instances, see rt_ffi_scope.c) and its own yield list; the parent waits for all
 * iterations (the implicit barrier) and concatenates the yields in input
 * order, so the result never depends on scheduling. Under a `within`, the
 * helper threads run under the parent's deadline; once an iteration is cut
 * short no more start, and the parent leaves for its else branch after the
 * barrier (rt_within.c). Threads are created with GC_pthread_create (via
 * GC_THREADS) so the collector scans their stacks, with the same large stack
 * and alternate signal stack as the thread running coex_main (rt_stack.c). */
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
    int64_t deadline;     /* the parent's innermost `within` deadline, -1: none */
    _Atomic int aborted;  /* set once an iteration left for an enclosing else; never cleared */
} task_job;

void coex_task_yield(void *ctx, int64_t v) {
    task_ctx *t = ctx;
    t->yields = coex_list_append(t->yields, v, t->yields->kind);
}

/* Iterations until none is left or one was cut short by a deadline of the
 * parent's `within` (its body returned early: coex_within_unwinding). */
static void run_iterations(task_job *job) {
    /* aborted: a flag; the barrier (join) orders everything else */
    while (!atomic_load(&job->aborted)) {
        int64_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->items->len) return;
        task_ctx ctx = {coex_list_new(1, job->kind)};
        coex_task_scope_enter();
        /* items is read-only while the tasks run: its holder waits in coex_task_for */
        job->body(job->env, coex_list_at(job->items, i), &ctx);
        coex_task_scope_exit();
        if (coex_within_unwinding()) {
            atomic_store(&job->aborted, 1);
            return;
        }
        job->results[i] = ctx.yields;
    }
}

/* A helper thread runs under the parent's deadline (level 0 of its own
 * stack): at the deadline its iteration unwinds to here. */
static void *worker(void *arg) {
    task_job *job = arg;
    int64_t level = job->deadline >= 0 ? coex_within_enter_at(job->deadline) : -1;
    run_iterations(job);
    if (level >= 0) coex_within_leave(level);
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
    job.deadline = coex_within_deadline();
    atomic_init(&job.aborted, 0);

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
    if (atomic_load(&job.aborted)) {
        /* the deadline passed: the caller leaves for its else branch */
        coex_within_expire_now();
        return coex_list_new(0, kind);
    }

    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += job.results[i]->len;
    coex_list *out = coex_list_new(total, kind);
    for (int64_t i = 0; i < n; i++) {
        coex_list *r = job.results[i];
        for (int64_t k = 0; k < r->len; k++) coex_list_append(out, coex_list_at(r, k), kind);
    }
    return out;
}
