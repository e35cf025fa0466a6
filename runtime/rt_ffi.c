/* rt_ffi.c: FFI instances (first form).
 *
 * Every FFI unit image is embedded in the executable (codegen's
 * coex_ffi_unit_table). An instance is a private load of an image: the bytes
 * are written to a memfd and dlopen'ed through /proc/self/fd/N with
 * RTLD_NOW|RTLD_LOCAL, so its globals are its own (images are linked with
 * -Bsymbolic). The fd stays open until after dlclose: glibc identifies a
 * loaded object by path and by device+inode, so a reused fd number would hand
 * back an old copy.
 *
 * Scopes: a func that may call externs brackets its body with
 * coex_ffi_scope_enter/exit; the outermost active invocation on the thread
 * owns the scope, and the scope's instances are created on first use and
 * destroyed when it exits. A task (each `task for` iteration, each direct
 * call of a task function) pushes a fresh scope (coex_task_scope_enter).
 *
 * `within`: a call made while a deadline is active runs on a helper thread;
 * at the deadline the caller abandons it (see coex_ffi_invoke).
 *
 * First form only (left for the isolation work, see docs/runtime.md):
 * instance-local heaps and caps, handle tables.
 * Resource exhaustion is reported when memfd/dlopen fail with ENOMEM/EMFILE,
 * or when more than COEX_FFI_MAX_INSTANCES instances would be live. */
#define _GNU_SOURCE
#include "coex_rt.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct ffi_instance {
    int fd;
    void *handle;
    void **syms;
} ffi_instance;

typedef struct ffi_scope {
    int64_t depth;               /* nested func invocations sharing it  */
    ffi_instance **instances;    /* one per unit, created on first use  */
    struct ffi_scope *parent;    /* scope of the task's parent          */
} ffi_scope;

static __thread ffi_scope *current_scope;
/* Instance and unit of the latest coex_ffi_fn on this thread: the call that
 * coex_ffi_invoke runs next (abandonment detaches exactly this instance). */
static __thread ffi_instance *call_instance;
static __thread int64_t call_unit;
static __thread int32_t in_foreign_code;
static __thread char **arg_copies;
static __thread int64_t arg_count, arg_cap;
static _Atomic int64_t live_instances;

static const char exhausted_body[] =
    "Cannot create FFI instance: system memory pressure.\n"
    "\n"
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

static ffi_scope *scope_new(ffi_scope *parent) {
    ffi_scope *s = calloc(1, sizeof(ffi_scope));
    int64_t units = coex_ffi_unit_count > 0 ? coex_ffi_unit_count : 1;
    if (s) s->instances = calloc((size_t)units, sizeof(ffi_instance *));
    if (!s || !s->instances) coex_rt_error("out of memory", NULL);
    s->parent = parent;
    return s;
}

static void instance_destroy(ffi_instance *inst) {
    if (!inst) return;
    dlclose(inst->handle);
    close(inst->fd); /* only after dlclose, see above */
    free(inst->syms);
    free(inst);
    atomic_fetch_sub(&live_instances, 1);
}

static void scope_destroy(ffi_scope *s) {
    for (int64_t u = 0; u < coex_ffi_unit_count; u++) instance_destroy(s->instances[u]);
    free(s->instances);
    free(s);
}

void coex_ffi_scope_enter(void) {
    if (!current_scope) current_scope = scope_new(NULL);
    current_scope->depth++;
}

void coex_ffi_scope_exit(void) {
    ffi_scope *s = current_scope;
    if (!s) return;
    if (--s->depth > 0) return;
    current_scope = s->parent;
    scope_destroy(s);
}

void coex_task_scope_enter(void) {
    ffi_scope *s = scope_new(current_scope);
    s->depth = 1;
    current_scope = s;
}

void coex_task_scope_exit(void) {
    ffi_scope *s = current_scope;
    if (!s) return;
    current_scope = s->parent;
    scope_destroy(s);
}

static int64_t max_instances(void) {
    const char *env = getenv("COEX_FFI_MAX_INSTANCES");
    if (!env || !*env) return -1;
    char *end;
    long long n = strtoll(env, &end, 10);
    return (*end == '\0' && n >= 0) ? n : -1;
}

/* Load a fresh instance of unit u; NULL when resources are exhausted. */
static ffi_instance *instance_create(int64_t u, const coex_loc *loc) {
    const coex_unit_desc *d = &coex_ffi_unit_table[u];
    int64_t cap = max_instances();
    if (cap >= 0 && atomic_fetch_add(&live_instances, 1) >= cap) {
        atomic_fetch_sub(&live_instances, 1);
        return NULL;
    }
    if (cap < 0) atomic_fetch_add(&live_instances, 1);

    int fd = memfd_create(d->name, MFD_CLOEXEC);
    if (fd < 0) goto exhausted;
    const unsigned char *p = d->image;
    int64_t left = *d->image_len;
    while (left > 0) {
        ssize_t w = write(fd, p, (size_t)left);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            goto exhausted;
        }
        p += w;
        left -= w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        close(fd);
        if (errno == ENOMEM || errno == EMFILE) goto exhausted;
        char msg[512];
        snprintf(msg, sizeof msg, "cannot load FFI unit '%s': %s", d->name,
                 why ? why : "unknown dlopen error");
        coex_rt_error(msg, loc);
    }
    ffi_instance *inst = calloc(1, sizeof(ffi_instance));
    void **syms = calloc((size_t)(d->nsyms > 0 ? d->nsyms : 1), sizeof(void *));
    if (!inst || !syms) coex_rt_error("out of memory", NULL);
    const char *name = d->symbols;
    for (int64_t k = 0; k < d->nsyms; k++) {
        syms[k] = dlsym(handle, name);
        if (!syms[k]) {
            char msg[512];
            snprintf(msg, sizeof msg, "FFI symbol '%s' not found in unit '%s'", name, d->name);
            coex_rt_error(msg, loc);
        }
        name += strlen(name) + 1;
    }
    inst->fd = fd;
    inst->handle = handle;
    inst->syms = syms;
    return inst;

exhausted:
    atomic_fetch_sub(&live_instances, 1);
    return NULL;
}

void *coex_ffi_fn(int64_t unit, int64_t sym, int32_t *status, const coex_loc *loc) {
    if (!current_scope) coex_ffi_scope_enter(); /* externs outside any func: process scope */
    ffi_instance *inst = current_scope->instances[unit];
    if (!inst) {
        inst = instance_create(unit, loc);
        if (!inst) {
            if (status) {
                *status = 1;
                return NULL;
            }
            coex_rt_error_body("FFI resource exhausted", exhausted_body, loc);
        }
        current_scope->instances[unit] = inst;
    }
    if (status) *status = 0;
    call_instance = inst;
    call_unit = unit;
    return inst->syms[sym];
}

const char *coex_ffi_str_arg(const coex_str *s) {
    char *copy = malloc((size_t)s->len + 1);
    if (!copy) coex_rt_error_body("FFI resource exhausted", exhausted_body, NULL);
    memcpy(copy, s->bytes, (size_t)s->len + 1);
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
    atomic_thread_fence(memory_order_release); /* publish the copy */
    return s;
}

void coex_ffi_release_args(void) {
    for (int64_t i = 0; i < arg_count; i++) free(arg_copies[i]);
    arg_count = 0;
}

void coex_ffi_enter(void) { in_foreign_code = 1; }
void coex_ffi_exit(void) { in_foreign_code = 0; }
int32_t coex_ffi_in_foreign_code(void) { return in_foreign_code; }

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

/* A call running on a helper thread under a deadline. */
typedef struct timed_call {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
    int abandoned;
    coex_ffi_tramp tramp;
    void *fn;
    ffi_instance *inst;   /* owned by the call once abandoned          */
    char **args;          /* string copies, owned once abandoned       */
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

static void *timed_call_run(void *arg) {
    timed_call *c = arg;
    coex_ffi_enter();
    c->tramp(c->fn, c->slots);
    coex_ffi_exit();
    pthread_mutex_lock(&c->lock);
    c->done = 1;
    int abandoned = c->abandoned;
    pthread_cond_signal(&c->done_cond);
    pthread_mutex_unlock(&c->lock);
    if (abandoned) {
        /* the caller has left: this thread was the last one inside the image */
        instance_destroy(c->inst);
        timed_call_free(c);
    }
    return NULL;
}

/* Run the call on a helper thread and wait until it returns or the deadline
 * passes. Returns 0 when the call completed (slots hold the result). */
static int invoke_with_deadline(coex_ffi_tramp tramp, void *fn, int64_t *slots,
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
    c->nslots = nslots;
    memcpy(c->slots, slots, (size_t)nslots * sizeof(int64_t));

    pthread_t helper;
    if (pthread_create(&helper, NULL, timed_call_run, c) != 0) {
        /* no thread to spare: run it here, without a deadline */
        coex_ffi_enter();
        tramp(fn, slots);
        coex_ffi_exit();
        timed_call_free(c);
        return 0;
    }
    struct timespec until = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    pthread_mutex_lock(&c->lock);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->done_cond, &c->lock, &until) == ETIMEDOUT && !c->done) break;
    }
    if (c->done) {
        pthread_mutex_unlock(&c->lock);
        pthread_join(helper, NULL);
        memcpy(slots, c->slots, (size_t)nslots * sizeof(int64_t));
        timed_call_free(c);
        return 0;
    }
    /* Abandon: the helper owns the instance and the argument copies now. */
    c->abandoned = 1;
    c->args = arg_copies;
    c->nargs = arg_count;
    arg_copies = NULL;
    arg_count = arg_cap = 0;
    if (current_scope && current_scope->instances[call_unit] == c->inst)
        current_scope->instances[call_unit] = NULL;
    pthread_mutex_unlock(&c->lock);
    pthread_detach(helper);
    slots[0] = 0;
    return 1;
}

void coex_ffi_invoke(coex_ffi_tramp tramp, void *fn, int64_t *slots, int64_t nslots) {
    int64_t deadline = coex_within_deadline();
    if (deadline >= 0 && call_instance) {
        invoke_with_deadline(tramp, fn, slots, nslots > 0 ? nslots : 1, deadline);
        return;
    }
    invoke_args a = {tramp, fn, slots};
    coex_ffi_enter();
    GC_do_blocking(run_blocking, &a);
    coex_ffi_exit();
}
