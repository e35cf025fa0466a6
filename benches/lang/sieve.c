/* Sieve of Eratosthenes: count the primes below N (argv[1], default 2,000,000). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    bool *composite = calloc((size_t)n, sizeof(bool));
    long count = 0;
    for (long i = 2; i < n; i++) {
        if (!composite[i]) {
            count++;
            for (long j = i * i; j < n; j += i) composite[j] = true;
        }
    }
    printf("%ld\n", count);
    free(composite);
    return 0;
}
