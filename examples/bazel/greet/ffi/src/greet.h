#ifndef GREET_H
#define GREET_H
#include <stdint.h>

int64_t coex_greet_add(int64_t a, int64_t b);

#endif
