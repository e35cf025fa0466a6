/* rt_ffi_scope.c: which instance an extern call uses.
 *
 * A func that may call externs brackets its body with
 * coex_ffi_scope_enter/exit; the outermost active invocation on the thread
 * owns the scope, and the scope's instances are acquired on first use and
 * released (pooled or destroyed, rt_ffi_load.c) when it exits. A task (each
 * `task for` iteration, each direct call of a task function) pushes a fresh
 * scope, so it never sees its parent's or its siblings' instances. */
#include "coex_rt.h"

#include <stdlib.h>

__thread ffi_scope *coex_ffi_current_scope;
#define current_scope coex_ffi_current_scope

static ffi_scope *scope_new(ffi_scope *parent) {
    ffi_scope *s = calloc(1, sizeof(ffi_scope));
    int64_t units = coex_ffi_unit_count > 0 ? coex_ffi_unit_count : 1;
    if (s) s->instances = calloc((size_t)units, sizeof(ffi_instance *));
    if (!s || !s->instances) coex_rt_error("out of memory", NULL);
    s->parent = parent;
    return s;
}

static void scope_destroy(ffi_scope *s) {
    for (int64_t u = 0; u < coex_ffi_unit_count; u++) coex_ffi_release(s->instances[u]);
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

ffi_instance *coex_ffi_scope_instance(int64_t unit, const coex_loc *loc) {
    if (!current_scope) coex_ffi_scope_enter(); /* externs outside any func: process scope */
    ffi_instance *inst = current_scope->instances[unit];
    if (!inst) {
        inst = coex_ffi_acquire(unit, loc);
        current_scope->instances[unit] = inst;
    }
    return inst;
}

void coex_ffi_scope_detach(int64_t unit, ffi_instance *inst) {
    if (current_scope && current_scope->instances[unit] == inst)
        current_scope->instances[unit] = NULL;
}
