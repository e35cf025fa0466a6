/* The operations of programs/floats.coex in C (double, %f). */
#include <math.h>
#include <stdio.h>
#define F(v) printf("%f\n", (double)(v))
int main(void) {
    F(1.5 + 2.25); F(10.0 / 4.0); F(0.1); F(1e3); F(2.5e-3); F(3 * 0.5);
    long n = 7; F(n / 2.0); F(-1.25); F(1.0 / 3.0);
    printf("%s\n", 2.0 > 1 ? "true" : "false");
    F(fmod(7.5, 2.0));
    double f = 0.5; f += n; F(f);
    printf("%f!\n", f);
    return 0;
}
