/* The operations of programs/arith.coex in C (int64_t, wrapping add). */
#include <stdint.h>
#include <stdio.h>
#define P(v) printf("%lld\n", (long long)(v))
int main(void) {
    P(7 / 2); P(-7 / 2); P(7 % -2); P(-7 % 2);
    P(2 + 3 * 4); P((2 + 3) * 4); P(10 - 2 - 3); P(100 / 7 / 2);
    P(0xFF + 0x5); P(1000000LL * 3);
    int64_t big = INT64_MAX; P((int64_t)((uint64_t)big + 1u));
    int64_t x = 5; x += 3; x -= 1; x *= 6; x /= 4; x %= 4; P(x);
    P(-(3 - 10));
    return 0;
}
