#include <stdint.h>

/* initial-exec TLS: the linked image is flagged DF_STATIC_TLS */
static __thread int64_t ticks __attribute__((tls_model("initial-exec")));

int64_t ie_tick(void) { return ++ticks; }
