/* rt_ffi_scope.c: which instance an extern call uses.
 *
 * A func that may call externs brackets its body with
 * coex_ffi_scope_enter/exit; the outermost active invocation on the thread
 * owns the scope, and the scope's instances are acquired on first use and
 * released (pooled or destroyed, rt_ffi_load.c) when it exits. A task (each
 * `task for` iteration, each direct call of a task function) pushes a fresh
 * scope, so it never sees its parent's or its siblings' instances. */
#include "coex_rt.h"

#include <pthread.h>
#include <stdlib.h>

__thread ffi_scope *coex_ffi_current_scope;
#define current_scope coex_ffi_current_scope

/* Call-table layout (coex_ffi_thread in coex_rt.h), fixed by the unit table:
 * unit_base[u] = symbols of the units before u; then one event-word
 * pointer per unit. */
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;
static int64_t *unit_base;
static int64_t total_symbols, table_len;
static void **empty_table; /* all NULL: every call takes the full path */
static uint32_t no_events; /* event word of an image without the shim */

static void layout_init(void) {
    int64_t units = coex_ffi_unit_count > 0 ? coex_ffi_unit_count : 0;
    unit_base = calloc((size_t)units + 1, sizeof(int64_t));
    if (!unit_base) coex_rt_error("out of memory", NULL);
    for (int64_t u = 0; u < units; u++) {
        unit_base[u] = total_symbols;
        total_symbols += coex_ffi_unit_table[u].nsyms;
    }
    table_len = total_symbols + units + 1;
    empty_table = calloc((size_t)table_len, sizeof(void *));
    if (!empty_table) coex_rt_error("out of memory", NULL);
}

static void layout(void) { pthread_once(&layout_once, layout_init); }

void coex_ffi_refresh_fast(void) {
    layout();
    ffi_scope *s = current_scope;
    coex_ffi_thread_state.fast = (s && coex_within_depth == 0) ? s->fast : empty_table;
}

/* inst became the scope's instance of unit: its symbols go into the table
 * (not under COEX_FFI_GC_BLOCKING=1, whose calls need the full path). */
static void table_fill(ffi_scope *s, int64_t unit, ffi_instance *inst) {
    if (coex_ffi_settings.gc_blocking) return;
    int64_t n = coex_ffi_unit_table[unit].nsyms;
    for (int64_t j = 0; j < n; j++) s->fast[unit_base[unit] + j] = inst->syms[j];
    s->fast[total_symbols + unit] = inst->events ? (void *)inst->events : (void *)&no_events;
}

static void table_clear(ffi_scope *s, int64_t unit) {
    int64_t n = coex_ffi_unit_table[unit].nsyms;
    for (int64_t j = 0; j < n; j++) s->fast[unit_base[unit] + j] = NULL;
    s->fast[total_symbols + unit] = NULL;
}

static ffi_scope *scope_new(ffi_scope *parent) {
    layout();
    ffi_scope *s = calloc(1, sizeof(ffi_scope));
    int64_t units = coex_ffi_unit_count > 0 ? coex_ffi_unit_count : 1;
    if (s) s->instances = calloc((size_t)units, sizeof(ffi_instance *));
    if (s) s->fast = calloc((size_t)table_len, sizeof(void *));
    if (!s || !s->instances || !s->fast) coex_rt_error("out of memory", NULL);
    s->parent = parent;
    return s;
}

static void scope_destroy(ffi_scope *s) {
    for (int64_t u = 0; u < coex_ffi_unit_count; u++) coex_ffi_release(s->instances[u]);
    free(s->instances);
    free(s->fast);
    free(s);
}

coex_ffi_thread *coex_ffi_scope_enter(void) {
    if (!current_scope) {
        current_scope = scope_new(NULL);
        coex_ffi_refresh_fast();
    }
    else if (!coex_ffi_thread_state.fast) coex_ffi_refresh_fast();
    current_scope->depth++;
    return &coex_ffi_thread_state;
}

void coex_ffi_scope_exit(void) {
    ffi_scope *s = current_scope;
    if (!s) return;
    if (--s->depth > 0) return;
    current_scope = s->parent;
    coex_ffi_refresh_fast();
    scope_destroy(s);
}

coex_ffi_thread *coex_task_scope_enter(void) {
    ffi_scope *s = scope_new(current_scope);
    s->depth = 1;
    current_scope = s;
    coex_ffi_refresh_fast();
    return &coex_ffi_thread_state;
}

void coex_task_scope_exit(void) {
    ffi_scope *s = current_scope;
    if (!s) return;
    current_scope = s->parent;
    coex_ffi_refresh_fast();
    scope_destroy(s);
}

ffi_instance *coex_ffi_scope_instance(int64_t unit, const coex_loc *loc) {
    if (!current_scope) coex_ffi_scope_enter(); /* externs outside any func: process scope */
    ffi_instance *inst = current_scope->instances[unit];
    if (!inst) {
        inst = coex_ffi_acquire(unit, loc);
        current_scope->instances[unit] = inst;
        if (inst) table_fill(current_scope, unit, inst);
    }
    return inst;
}

void coex_ffi_scope_detach(int64_t unit, ffi_instance *inst) {
    if (current_scope && current_scope->instances[unit] == inst) {
        current_scope->instances[unit] = NULL;
        table_clear(current_scope, unit);
    }
}
