#include "greet.h"

int64_t coex_greet_add(int64_t a, int64_t b) {
    return a + b;
}
