/* The same numeric loop as numeric.coex: int -> float conversions in the
 * Leibniz series for pi and a sum of i / 2^20 over N terms. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atol(argv[1]) : 20000000;
    double pi = 0.0, scaled = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double sign = i % 2 == 0 ? 1.0 : -1.0;
        pi += sign * 4.0 / (double)(2 * i + 1);
        scaled += (double)i / 1048576.0;
    }
    printf("%f\n%f\n", pi, scaled);
    return 0;
}
