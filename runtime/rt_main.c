/* rt_main.c: the process entry point. Runs the generated coex_main (the Coex
 * `main`, its return value the exit status), flushes stdout, exits. */
#include "coex_rt.h"

#include <stdio.h>

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    coex_rt_init();
    int64_t status = coex_main();
    coex_rt_flush_all();
    coex_rt_report_peak();
    return (int)(status & 0xff);
}
