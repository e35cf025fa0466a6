/* rt_crash.c: what the user sees when the process crashes.
 *
 * One handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, on the
 * thread's alternate stack (rt_stack.c). It writes what the program printed
 * so far (C's stdout buffer, written raw), one worded error on stderr, and
 * exits with status 1 — never a signal death. Three cases:
 *   - the thread is inside an extern call (coex_ffi_thread_state.site):
 *     "FFI library 'L' crashed in extern 'F' (SIGSEGV)" at the call's line;
 *   - a SIGSEGV in or just below the guard of this thread's stack: "stack
 *     overflow (recursion too deep)", naming the Coex function;
 *   - anything else: "the program crashed (SIGSEGV)", naming the function.
 * The process cannot continue after a crash in C (it may hold libc locks or
 * have corrupted the heap); surviving one needs child processes (later). */
#define _GNU_SOURCE
#include "coex_rt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

/* A fault this far below the lowest usable stack byte is still an overflow
 * (a frame that skipped the guard; the main stack's kernel gap is 1 MiB). */
#define OVERFLOW_WINDOW ((uintptr_t)2 << 20)
/* How far above the stack pointer to look for a Coex return address. */
#define SCAN_LIMIT ((uintptr_t)64 << 10)

/* ---- a message built without stdio or malloc ---------------------------- */

typedef struct msg {
    size_t len;
    char buf[4096];
} msg;

static void put_n(msg *m, const char *s, size_t n) {
    for (size_t i = 0; i < n && m->len < sizeof m->buf; i++) m->buf[m->len++] = s[i];
}

static void put(msg *m, const char *s) { put_n(m, s, strlen(s)); }

static size_t int_text(char *out, int64_t v) {
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0) out[k++] = '-';
    while (n) out[k++] = tmp[--n];
    return k;
}

static void put_int(msg *m, int64_t v) {
    char t[24];
    put_n(m, t, int_text(t, v));
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* The location block of rt_errors.c's write_location, built in m. */
static void put_location(msg *m, const coex_loc *loc) {
    if (!loc) return;
    const char *file = loc->text;
    const char *source = file + strlen(file) + 1;
    char num[24];
    size_t width = int_text(num, loc->line);
    put(m, "  --> ");
    put(m, file);
    put(m, ":");
    put_n(m, num, width);
    put(m, "\n");
    for (size_t i = 0; i < width; i++) put(m, " ");
    put(m, " |\n");
    put_n(m, num, width);
    put(m, " | ");
    put(m, source);
    put(m, "\n");
}

/* ---- stdout ------------------------------------------------------------- */

/* coex_rt_flush_all without stdio's lock: a crashed thread may hold it.
 * Lock-free read of glibc's FILE: [_IO_write_base, _IO_write_ptr) is what
 * was buffered and not yet written; the writers are stopped or, in another
 * thread, may at worst leave their own line partial — accepted in a crash. */
static void flush_stdout_raw(void) {
#ifdef __GLIBC__
    FILE *f = stdout;
    char *base = f->_IO_write_base, *ptr = f->_IO_write_ptr;
    if (base && ptr > base) write_all(f->_fileno, base, (size_t)(ptr - base));
#endif
}

/* ---- where it happened -------------------------------------------------- */

/* 1 when pc is in generated code, *name then its function (NULL for glue);
 * the table's last entry marks the end of the generated code. */
static int coex_code_at(uintptr_t pc, const char **name) {
    int64_t best = -1;
    for (int64_t i = 0; i < coex_func_count; i++) {
        uintptr_t start = (uintptr_t)coex_func_table[i].start;
        if (start <= pc && (best < 0 || start >= (uintptr_t)coex_func_table[best].start)) best = i;
    }
    if (best < 0 || best == coex_func_count - 1) return 0;
    *name = coex_func_table[best].name;
    return 1;
}

/* The innermost named Coex function: the one at pc, else the first word on
 * this thread's stack above sp that points into one (a return address). */
static const char *coex_func_name(uintptr_t pc, uintptr_t sp) {
    const char *name = NULL;
    if (coex_code_at(pc, &name) && name) return name;
    uintptr_t lo = coex_stack_lo, hi = coex_stack_hi;
    if (!lo || sp >= hi) return NULL;
    uintptr_t p = (sp > lo ? sp : lo) & ~(uintptr_t)7;
    uintptr_t end = hi - p > SCAN_LIMIT ? p + SCAN_LIMIT : hi;
    for (; p + 8 <= end; p += 8) {
        if (coex_code_at(*(const uintptr_t *)p, &name) && name) return name;
    }
    return NULL;
}

static int is_stack_overflow(int sig, const siginfo_t *info, uintptr_t sp) {
    uintptr_t lo = coex_stack_lo, addr = (uintptr_t)info->si_addr;
    if (sig != SIGSEGV || !lo) return 0;
    uintptr_t floor = lo > OVERFLOW_WINDOW ? lo - OVERFLOW_WINDOW : 0;
    return addr >= floor && addr < lo + 4096 && sp < lo + SCAN_LIMIT;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
    }
}

/* ---- the messages ------------------------------------------------------- */

static void ffi_message(msg *m, const coex_ffi_site *site, int sig, int overflow) {
    const char *unit = "?", *sym = "?";
    if (site->unit >= 0 && site->unit < coex_ffi_unit_count) {
        const coex_unit_desc *u = &coex_ffi_unit_table[site->unit];
        unit = u->name;
        sym = u->symbols;
        for (int64_t i = 0; i < site->sym && i < u->nsyms; i++) sym += strlen(sym) + 1;
    }
    const char *slash = strchr(unit, '/');
    put(m, "error: FFI library '");
    put_n(m, unit, slash ? (size_t)(slash - unit) : strlen(unit));
    put(m, "' crashed in extern '");
    put(m, sym);
    put(m, "' (");
    put(m, signal_name(sig));
    put(m, ")\n");
    put_location(m, site->loc);
    if (overflow) put(m, "\nThe library's C code ran out of stack (stack overflow).\n");
}

static void coex_message(msg *m, int sig, int overflow, const char *func) {
    if (overflow) {
        put(m, "error: stack overflow (recursion too deep)");
    } else {
        put(m, "error: the program crashed (");
        put(m, signal_name(sig));
        put(m, ")");
    }
    if (func) {
        put(m, " in ");
        put(m, func);
    }
    put(m, "\n");
    if (overflow) {
        put(m, "\nThe stack of this thread holds ");
        put_int(m, (int64_t)((coex_stack_hi - coex_stack_lo) >> 20));
        put(m, " MiB.\n");
    }
}

/* The first crashing thread reports; others wait for its _exit. */
static atomic_int crashing;

/* Async-signal-safe: it calls only write(2), _exit(2), pause(2) and its
 * own formatting; it reads this thread's TLS (initial/local-exec in the
 * executable: no allocation) and read-only tables; stdout is written raw
 * (flush_stdout_raw), so no stdio lock, no malloc, no lock of any kind. */
static void on_crash(int sig, siginfo_t *info, void *context) {
    if (atomic_exchange(&crashing, 1)) {
        for (;;) pause();
    }
    const ucontext_t *uc = context;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    int overflow = is_stack_overflow(sig, info, sp);
    flush_stdout_raw();
    static msg m; /* only the one reporting thread gets here */
    m.len = 0;
    const coex_ffi_site *site = coex_ffi_thread_state.site;
    if (site) ffi_message(&m, site, sig, overflow);
    else coex_message(&m, sig, overflow, coex_func_name(pc, sp));
    write_all(2, m.buf, m.len);
    _exit(1);
}

void coex_rt_crash_init(void) {
    static const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    coex_rt_thread_enter();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&sa.sa_mask, signals[i]);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &sa, NULL);
}
