/* In-place quicksort (Hoare partition, middle pivot) of N pseudo-random
 * ints (argv[1], default 1,000,000): the same algorithm as quicksort.coex. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void sort(int64_t *xs, int64_t lo, int64_t hi) {
    while (lo < hi) {
        int64_t pivot = xs[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (xs[i] < pivot) i++;
            while (xs[j] > pivot) j--;
            if (i <= j) {
                int64_t t = xs[i];
                xs[i] = xs[j];
                xs[j] = t;
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            sort(xs, lo, j);
            lo = i;
        } else {
            sort(xs, i, hi);
            hi = j;
        }
    }
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atol(argv[1]) : 1000000;
    int64_t *xs = malloc((size_t)n * sizeof(int64_t));
    int64_t seed = 12345;
    for (int64_t k = 0; k < n; k++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        xs[k] = seed % 1000000;
    }
    sort(xs, 0, n - 1);
    int ok = 1;
    int64_t sum = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k > 0 && xs[k - 1] > xs[k]) ok = 0;
        sum = (sum * 31 + xs[k]) % 1000000007;
    }
    printf("%s\n%lld\n", ok ? "true" : "false", (long long)sum);
    free(xs);
    return 0;
}
