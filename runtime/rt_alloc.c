/* rt_alloc.c: the GC heap (Boehm, conservative, thread-aware) and records.
 * A record of n fields is n + 1 slots: the fields, then its shared flag
 * (0 when allocated: GC_MALLOC clears; see rt_lists.c for the flag). */
#include "coex_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void coex_rt_init(void) {
    GC_INIT();
    GC_allow_register_threads();
}

int64_t *coex_record_new(int64_t nslots) {
    int64_t *r = GC_MALLOC((size_t)(nslots > 0 ? nslots + 1 : 1) * sizeof(int64_t));
    if (!r) coex_rt_error("out of memory", NULL);
    return r;
}

void coex_rt_report_peak(void) {
    const char *flag = getenv("COEX_RT_PEAK_RSS");
    if (!flag || strcmp(flag, "1") != 0) return;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) {
            fprintf(stderr, "coex-rt: peak-rss-kb %lld\n", kb);
            break;
        }
    }
    fclose(f);
}
