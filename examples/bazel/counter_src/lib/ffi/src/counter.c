#include <stdint.h>

static int64_t count = 0;

int64_t coex_counter_next(void) {
    count += 1;
    return count;
}
