/* rt_lists.c: lists of 8-byte slots with value semantics by copy-on-write.
 *
 * A list has one owner until its value is copied into a second binding
 * (assignment, argument, field, element, task capture): generated code then
 * calls coex_list_share, which sets `shared` for good. Appending to an
 * unshared list grows it in place (amortised O(1)); appending to a shared
 * list copies it first, and the copy (unshared) goes back to the appending
 * variable. No one can therefore observe another binding's later changes. */
#include "coex_rt.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static int64_t *alloc_slots(int64_t cap) {
    if (cap < 4) cap = 4;
    int64_t *slots = GC_MALLOC((size_t)cap * sizeof(int64_t));
    if (!slots) coex_rt_error("out of memory", NULL);
    return slots;
}

coex_list *coex_list_new(int64_t cap) {
    coex_list *l = GC_MALLOC(sizeof(coex_list));
    if (!l) coex_rt_error("out of memory", NULL);
    if (cap < 4) cap = 4;
    l->len = 0;
    l->cap = cap;
    l->shared = 0;
    l->slots = alloc_slots(cap);
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
    return l->slots[i];
}

coex_list *coex_list_share(coex_list *l) {
    /* Relaxed is enough: the flag only ever goes 0 -> 1, and parallel tasks
     * read their parent's lists (never append to them in place, see
     * coex_task_for, which marks captured lists shared before starting). */
    if (l && !atomic_load_explicit((_Atomic int64_t *)&l->shared, memory_order_relaxed))
        atomic_store_explicit((_Atomic int64_t *)&l->shared, 1, memory_order_relaxed);
    return l;
}

coex_list *coex_list_append(coex_list *l, int64_t v) {
    if (l->shared) {
        coex_list *c = coex_list_new(l->len * 2 + 1);
        memcpy(c->slots, l->slots, (size_t)l->len * sizeof(int64_t));
        c->len = l->len;
        l = c;
    } else if (l->len == l->cap) {
        int64_t cap = l->cap * 2;
        int64_t *slots = alloc_slots(cap);
        memcpy(slots, l->slots, (size_t)l->len * sizeof(int64_t));
        l->slots = slots;
        l->cap = cap;
    }
    l->slots[l->len++] = v;
    return l;
}

coex_list *coex_list_range(int64_t a, int64_t b) {
    int64_t n = b > a ? b - a : 0;
    coex_list *l = coex_list_new(n);
    for (int64_t i = 0; i < n; i++) l->slots[i] = a + i;
    l->len = n;
    return l;
}
