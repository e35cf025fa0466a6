/* Boundary of the counter FFI unit: only int64_t, int32_t (bool) and
 * const char* cross it (see cxz-format §4). */
#ifndef COEX_COUNTER_H
#define COEX_COUNTER_H

#include <stdint.h>

int64_t coex_counter_increment(void);
int64_t coex_counter_get(void);
void coex_counter_reset(void);

int64_t coex_counter_new(int64_t start);
int64_t coex_counter_add(int64_t handle, int64_t n);
int32_t coex_counter_free(int64_t handle);
const char *coex_counter_label(int64_t handle);

#endif
