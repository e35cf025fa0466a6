/* rt_lists.c: lists, and the copies behind value semantics of containers.
 *
 * Lists and records are mutable containers with value semantics
 * (docs/runtime.md, "Lists and records"). Each has a `shared` flag that
 * generated code sets when the value is copied into a second binding
 * (assignment, argument, field, element, task snapshot) unless the source
 * binding is dead afterwards (a move). A write or append to an unshared
 * container happens in place; to a shared one it first copies it
 * (coex_list_copy, coex_record_copy, coex_list_append) and the copy, which
 * is unshared, replaces the container in its place. A copy is shallow: the
 * containers it holds are then held twice, so the copy marks each of them
 * shared (share_slot). The flag is never cleared: at most one copy too many,
 * no reference counts. */
#include "coex_rt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Bytes per element of a list of this kind. */
static size_t elem_size(int64_t kind) { return kind == COEX_KIND_BOOL ? 1 : sizeof(int64_t); }

static void *alloc_slots(int64_t cap, int64_t kind) {
    if (cap < 4) cap = 4;
    size_t bytes = (size_t)cap * elem_size(kind);
    /* Ints, floats and bools are no pointers: the collector skips them. */
    void *slots = kind <= COEX_KIND_BOOL ? GC_MALLOC_ATOMIC(bytes) : GC_MALLOC(bytes);
    if (!slots) coex_rt_error("out of memory", NULL);
    return slots;
}

int64_t coex_list_at(const coex_list *l, int64_t i) {
    if (l->kind == COEX_KIND_BOOL) return ((const unsigned char *)l->slots)[i];
    return ((const int64_t *)l->slots)[i];
}

static void set_at(coex_list *l, int64_t i, int64_t v) {
    if (l->kind == COEX_KIND_BOOL)
        ((unsigned char *)l->slots)[i] = (unsigned char)(v != 0);
    else
        ((int64_t *)l->slots)[i] = v;
}

/* Mark a container held in a slot of the given kind as shared. */
static void share_slot(int64_t v, int64_t kind) {
    _Atomic int64_t *flag;
    if (kind == COEX_KIND_LIST)
        flag = (_Atomic int64_t *)&((coex_list *)v)->shared;
    else if (kind >= COEX_KIND_RECORD)
        flag = (_Atomic int64_t *)&((int64_t *)v)[kind - COEX_KIND_RECORD];
    else
        return;
    /* Relaxed is enough: the flag only ever goes 0 -> 1, every thread that
     * may write through a container sets it itself before it could, and a
     * task's parent marks what the task can reach before starting it. */
    if (!atomic_load_explicit(flag, memory_order_relaxed))
        atomic_store_explicit(flag, 1, memory_order_relaxed);
}

coex_list *coex_list_new(int64_t cap, int64_t kind) {
    coex_list *l = GC_MALLOC(sizeof(coex_list));
    if (!l) coex_rt_error("out of memory", NULL);
    if (cap < 4) cap = 4;
    if (kind == COEX_KIND_UNDECIDED) cap = 0;
    l->len = 0;
    l->cap = cap;
    l->shared = 0;
    l->slots = cap > 0 ? alloc_slots(cap, kind) : NULL;
    l->kind = kind;
    return l;
}

int64_t coex_list_len(const coex_list *l) { return l->len; }

int64_t coex_list_get(const coex_list *l, int64_t i, const coex_loc *loc) {
    if (i < 0 || i >= l->len) {
        char msg[96];
        snprintf(msg, sizeof msg, "index out of range: index %lld, length %lld",
                 (long long)i, (long long)l->len);
        coex_rt_error(msg, loc);
    }
    return coex_list_at(l, i);
}

coex_list *coex_list_share(coex_list *l) {
    if (l) share_slot((int64_t)l, COEX_KIND_LIST);
    return l;
}

/* An unshared copy of l with room for extra more elements. */
static coex_list *copy_list(const coex_list *l, int64_t extra) {
    coex_list *c = coex_list_new(l->len + extra, l->kind);
    if (l->len > 0) memcpy(c->slots, l->slots, (size_t)l->len * elem_size(l->kind));
    c->len = l->len;
    if (l->kind >= COEX_KIND_LIST)
        for (int64_t i = 0; i < c->len; i++) share_slot(((int64_t *)c->slots)[i], c->kind);
    return c;
}

coex_list *coex_list_copy(const coex_list *l) { return copy_list(l, 0); }

coex_list *coex_list_append(coex_list *l, int64_t v, int64_t kind) {
    if (l->kind == COEX_KIND_UNDECIDED) {
        /* always empty: a shared one is replaced, an unshared one decided */
        if (l->shared) return coex_list_append(coex_list_new(1, kind), v, kind);
        l->kind = kind;
        l->cap = 4;
        l->slots = alloc_slots(l->cap, kind);
    }
    /* plain read: an unshared list is reachable from this thread only, and a
     * flag another thread may set is already 1 (set before it could see l) */
    if (l->shared) {
        l = copy_list(l, l->len + 1);
    } else if (l->len == l->cap) {
        int64_t cap = l->cap * 2;
        void *slots = alloc_slots(cap, l->kind);
        memcpy(slots, l->slots, (size_t)l->len * elem_size(l->kind));
        l->slots = slots;
        l->cap = cap;
    }
    set_at(l, l->len++, v);
    return l;
}

coex_list *coex_list_range(int64_t a, int64_t b) {
    int64_t n = b > a ? b - a : 0;
    coex_list *l = coex_list_new(n, COEX_KIND_SCALAR);
    for (int64_t i = 0; i < n; i++) ((int64_t *)l->slots)[i] = a + i;
    l->len = n;
    return l;
}

int64_t *coex_record_copy(const int64_t *r, int64_t n, const int64_t *kinds) {
    int64_t *c = coex_record_new(n);
    memcpy(c, r, (size_t)n * sizeof(int64_t));
    if (kinds)
        for (int64_t i = 0; i < n; i++) share_slot(c[i], kinds[i]);
    return c;
}
