/* rt_ffi_pool.c: handing out instances, and taking them back.
 *
 * Acquire: refused (NULL: ResourceExhausted) while COEX_FFI_MAX_ABANDONED
 * abandoned calls still run or COEX_FFI_MAX_INSTANCES instances are in use;
 * else a pooled instance of the unit, else a fresh load (rt_ffi_load.c).
 * Release: an instance that may be reused (its unit passed the analysis, a
 * snapshot was taken, nothing tainted it: no heap cap hit, no libc-owned
 * memory freed through the shim, no abandoned call) is reset to its
 * load-time bytes and kept, up to COEX_FFI_POOL_MAX per unit; every other
 * instance is unloaded. See docs/ffi.md, "Pooling". */
#include "coex_rt.h"

#include <pthread.h>
#include <stdatomic.h>

ffi_instance *coex_ffi_acquire(int64_t u, const coex_loc *loc) {
    const ffi_config *c = coex_ffi_config();
    /* A limit check, not a reservation: a race admits at most one extra. */
    if (atomic_load(&coex_ffi_stats.abandoned_running) >= c->max_abandoned) return NULL;
    /* fetch_add reserves a slot atomically; over the limit it is given back. */
    int64_t live = atomic_fetch_add(&coex_ffi_stats.live, 1);
    if (c->max_instances >= 0 && live >= c->max_instances) {
        atomic_fetch_sub(&coex_ffi_stats.live, 1);
        return NULL;
    }
    ffi_unit_info *ui = coex_ffi_unit(u, loc);
    ffi_instance *inst = NULL;
    if (__atomic_load_n(&ui->pool, __ATOMIC_RELAXED)) { /* a hint; checked under the lock */
        pthread_mutex_lock(&ui->lock);
        inst = ui->pool;
        if (inst) {
            ui->pool = inst->next_pooled;
            ui->pooled--;
        }
        pthread_mutex_unlock(&ui->lock);
        if (inst) {
            inst->next_pooled = NULL;
            atomic_fetch_add(&coex_ffi_stats.reused, 1);
            return inst;
        }
    }
    inst = coex_ffi_instance_load(u, ui, loc);
    if (!inst) atomic_fetch_sub(&coex_ffi_stats.live, 1);
    return inst;
}

void coex_ffi_release(ffi_instance *inst) {
    if (!inst) return;
    atomic_fetch_sub(&coex_ffi_stats.live, 1);
    ffi_unit_info *ui = coex_ffi_unit(inst->unit, NULL);
    /* Relaxed: the call that set these bits returned on this thread. */
    uint32_t events = inst->events ? __atomic_load_n(inst->events, __ATOMIC_RELAXED) : 0;
    if (events & COEX_SHIM_EVENT_FOREIGN) inst->taint |= COEX_TAINT_FOREIGN;
    if (inst->snapshot && !inst->taint) {
        coex_ffi_instance_reset(inst);
        pthread_mutex_lock(&ui->lock);
        int keep = ui->pooled < coex_ffi_config()->pool_max;
        if (keep) {
            inst->next_pooled = ui->pool;
            ui->pool = inst;
            ui->pooled++;
        }
        pthread_mutex_unlock(&ui->lock);
        if (keep) {
            atomic_fetch_add(&coex_ffi_stats.pooled, 1);
            return;
        }
    }
    coex_ffi_instance_destroy(inst);
}
