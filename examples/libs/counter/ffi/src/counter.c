/* The counter FFI unit.
 *
 * All state is in plain globals with no locking at all: this code is not
 * thread-safe on purpose. Coex gives every func invocation and every task
 * its own FFI instance (its own copy of these globals), which is what makes
 * calling it from parallel tasks safe.
 */
#include <stdio.h>

#include "counter.h"

#define MAX_COUNTERS 64

/* The one global counter of this instance. */
static int64_t global_count = 0;

/* Scratch buffer for returned labels: Coex copies a returned string at once,
 * so reusing one buffer is fine within an instance. */
static char scratch[96];

/* Handle table: handle h (1..MAX_COUNTERS) is slot h - 1. */
struct counter_slot {
    int32_t used;
    int64_t value;
};
static struct counter_slot slots[MAX_COUNTERS];

static struct counter_slot *lookup(int64_t handle)
{
    if (handle < 1 || handle > MAX_COUNTERS) {
        return NULL;
    }
    if (!slots[handle - 1].used) {
        return NULL;
    }
    return &slots[handle - 1];
}

int64_t coex_counter_increment(void)
{
    global_count += 1;
    return global_count;
}

int64_t coex_counter_get(void)
{
    return global_count;
}

void coex_counter_reset(void)
{
    global_count = 0;
}

/* Returns a new handle starting at `start`, or 0 when all slots are taken. */
int64_t coex_counter_new(int64_t start)
{
    int64_t i;
    for (i = 0; i < MAX_COUNTERS; i++) {
        if (!slots[i].used) {
            slots[i].used = 1;
            slots[i].value = start;
            return i + 1;
        }
    }
    return 0;
}

/* Adds n and returns the new value; an unknown handle leaves nothing changed
 * and returns 0. */
int64_t coex_counter_add(int64_t handle, int64_t n)
{
    struct counter_slot *slot = lookup(handle);
    if (slot == NULL) {
        return 0;
    }
    slot->value += n;
    return slot->value;
}

/* Frees a handle; returns 1 if it was live, 0 otherwise. */
int32_t coex_counter_free(int64_t handle)
{
    struct counter_slot *slot = lookup(handle);
    if (slot == NULL) {
        return 0;
    }
    slot->used = 0;
    slot->value = 0;
    return 1;
}

const char *coex_counter_label(int64_t handle)
{
    struct counter_slot *slot = lookup(handle);
    if (slot == NULL) {
        snprintf(scratch, sizeof scratch, "counter #%lld (free)", (long long)handle);
    } else {
        snprintf(scratch, sizeof scratch, "counter #%lld = %lld", (long long)handle,
                 (long long)slot->value);
    }
    return scratch;
}
