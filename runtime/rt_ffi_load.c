/* rt_ffi_load.c: FFI instances — private loads of a unit image, their
 * heaps, and what the runtime learns about an image before the first load.
 *
 * Load: the embedded image is written to a memfd and dlopen'ed through
 * /proc/self/fd/N with RTLD_NOW|RTLD_LOCAL, so its globals are its own (the
 * FFI build links images with -Bsymbolic -z now). The fd stays open until
 * after dlclose: glibc identifies a loaded object by path and by
 * device+inode, so a reused fd number would hand back an old copy.
 *
 * Heap: an image linked with the shim (runtime/ffi_shim) asks for heap
 * memory through heap_grow. Each instance reserves one address range
 * (PROT_NONE, COEX_FFI_INSTANCE_HEAP_MAX long) on first use and commits it
 * on demand; committed bytes count against the per-instance and the
 * process-wide (COEX_FFI_TOTAL_HEAP_MAX) caps. Destroy/reset unmaps it.
 *
 * Analysis (once per unit, from the image bytes): the writable PT_LOAD
 * bytes outside PT_GNU_RELRO (what a pool reset restores), whether the
 * image has TLS and which symbols it imports (what decides whether its
 * instances may be pooled, see rt_ffi_pool.c), and DF_STATIC_TLS
 * (rejected: initial-exec TLS exhausts glibc's static TLS block after a
 * handful of instances). */
#define _GNU_SOURCE
#include "coex_rt.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

ffi_stats coex_ffi_stats;
/* Committed heap bytes of all instances; only ever changed by atomic add/sub. */
static _Atomic uint64_t total_committed;
/* Handle tag source: fetch_add gives each shim_connect a distinct value. */
static _Atomic int64_t next_tag;

/* ---- configuration -------------------------------------------------------- */

ffi_config coex_ffi_settings;
#define config coex_ffi_settings
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

/* A non-negative integer setting; anything else (negative, trailing junk,
 * or a value that does not fit in int64 once its suffix is applied) is
 * ignored and the fallback applies. */
static int64_t env_int(const char *name, int64_t fallback) {
    const char *v = getenv(name);
    if (!v || !*v) return fallback;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (n < 0 || errno == ERANGE) return fallback;
    /* size suffixes for the heap caps: 64K, 16M, 2G */
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end != '\0' || n > (INT64_MAX >> shift)) return fallback;
    return (int64_t)n << shift;
}

static void stats_at_exit(void);

static void config_read(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t phys = (pages > 0 && page > 0) ? (uint64_t)pages * (uint64_t)page : (4ull << 30);
    config.max_instances = env_int("COEX_FFI_MAX_INSTANCES", -1);
    config.instance_heap_max = (uint64_t)env_int("COEX_FFI_INSTANCE_HEAP_MAX", 1ll << 30);
    config.total_heap_max = (uint64_t)env_int("COEX_FFI_TOTAL_HEAP_MAX", (int64_t)(phys / 2));
    config.pool_max = env_int("COEX_FFI_POOL_MAX", 32);
    config.max_abandoned = env_int("COEX_FFI_MAX_ABANDONED", 16);
    const char *s = getenv("COEX_FFI_STATS");
    config.stats = s && strcmp(s, "1") == 0;
    s = getenv("COEX_FFI_GC_BLOCKING");
    config.gc_blocking = s && strcmp(s, "1") == 0;
    if (config.stats) atexit(stats_at_exit);
}

const ffi_config *coex_ffi_config(void) {
    pthread_once(&config_once, config_read);
    return &config;
}

static void stats_at_exit(void) {
    ffi_stats *s = &coex_ffi_stats;
    fprintf(stderr,
            "coex-rt: ffi-stats created=%lld reused=%lld pooled=%lld destroyed=%lld "
            "abandoned=%lld abandoned-destroyed=%lld heap-cap-hits=%lld\n",
            (long long)s->created, (long long)s->reused, (long long)s->pooled,
            (long long)s->destroyed, (long long)s->abandoned,
            (long long)s->abandoned_destroyed, (long long)s->cap_hits);
}

/* ---- image analysis ---------------------------------------------------- */

/* Imports that keep no state of their own that a reset would orphan or that
 * outlives the instance: pure functions, formatting into caller buffers,
 * output to stdout/stderr, sleeping. Anything else (fopen, regcomp,
 * pthread_create, atexit, setlocale, getline, ...) makes a unit's instances
 * non-poolable. */
static const char *const pure_imports[] = {
    "__assert_fail", "__ctype_b_loc", "__ctype_tolower_loc", "__ctype_toupper_loc",
    "__cxa_finalize", "__errno_location", "__fprintf_chk", "__gmon_start__",
    "__isoc99_sscanf", "__memcpy_chk", "__memmove_chk", "__memset_chk", "__printf_chk",
    "__snprintf_chk", "__sprintf_chk", "__stack_chk_fail", "__stpcpy_chk", "__strcat_chk",
    "__strcpy_chk", "__strncat_chk", "__strncpy_chk", "__vfprintf_chk", "__vsnprintf_chk",
    "__vsprintf_chk", "_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable", "abort",
    "abs", "acos", "asin", "atan", "atan2", "atof", "atoi", "atol", "atoll", "bsearch",
    "cbrt", "ceil", "clock_gettime", "cos", "cosh", "exp", "exp2", "fabs", "fflush", "floor",
    "fmax", "fmin", "fmod", "fprintf", "fputc", "fputs", "fwrite", "hypot", "isalnum",
    "isalpha", "isdigit", "islower", "isspace", "isupper", "labs", "ldexp", "llabs", "log",
    "log10", "log2", "memchr", "memcmp", "memcpy", "memmove", "memrchr", "memset",
    "nanosleep", "pow", "printf", "putchar", "puts", "qsort", "rawmemchr", "round", "sin",
    "sinh", "sleep", "snprintf", "sprintf", "sqrt", "sscanf", "stderr", "stdout", "stpcpy",
    "strcasecmp", "strcat", "strchr", "strcmp", "strcpy", "strcspn", "strlen",
    "strncasecmp", "strncat", "strncmp", "strncpy", "strnlen", "strpbrk", "strrchr",
    "strspn", "strstr", "strtod", "strtof", "strtol", "strtoll", "strtoul", "strtoull", "tan",
    "tanh", "time", "tolower", "toupper", "trunc", "usleep", "vfprintf", "vsnprintf",
    "vsprintf",
};

static int pure_import(const char *name) {
    for (size_t i = 0; i < sizeof pure_imports / sizeof *pure_imports; i++)
        if (strcmp(pure_imports[i], name) == 0) return 1;
    return 0;
}


static ffi_unit_info *units;
static pthread_once_t units_once = PTHREAD_ONCE_INIT;

static void units_init(void) {
    int64_t n = coex_ffi_unit_count > 0 ? coex_ffi_unit_count : 1;
    units = calloc((size_t)n, sizeof(ffi_unit_info));
    if (!units) return;
    for (int64_t i = 0; i < n; i++) pthread_mutex_init(&units[i].lock, NULL);
}

#define IN(off, size, total) ((off) <= (total) && (size) <= (total) - (off))

/* Fills ui from the ELF image; stops the program for DF_STATIC_TLS. An image
 * it cannot read is simply never pooled (dlopen reports real damage). */
static void analyse(ffi_unit_info *ui, const coex_unit_desc *d, const coex_loc *loc) {
    const unsigned char *img = d->image;
    uint64_t n = (uint64_t)*d->image_len;
    ui->poolable = 0;
    ui->nrel = 0;
    if (n < sizeof(Elf64_Ehdr) || memcmp(img, ELFMAG, SELFMAG) != 0 || img[EI_CLASS] != ELFCLASS64)
        return;
    const Elf64_Ehdr *eh = (const void *)img;
    if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !IN(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), n))
        return;
    const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff);
    long page = sysconf(_SC_PAGESIZE);
    uint64_t relro_lo = 0, relro_hi = 0;
    const Elf64_Phdr *dyn = NULL;
    int tls = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_GNU_RELRO) {
            relro_lo = ph[i].p_vaddr & ~(uint64_t)(page - 1);
            relro_hi = (ph[i].p_vaddr + ph[i].p_memsz) & ~(uint64_t)(page - 1);
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = &ph[i];
        } else if (ph[i].p_type == PT_TLS) {
            tls = 1;
        }
    }
    /* DF_STATIC_TLS: refuse to load at all. The FFI build refuses such images
     * already (src/ffi_build/elf.rs); this check stays for images coex did not
     * build, which `coex tool link --unit-image` and link::build_executable
     * embed as they are. */
    if (dyn && IN(dyn->p_offset, dyn->p_filesz, n)) {
        const Elf64_Dyn *dy = (const void *)(img + dyn->p_offset);
        for (uint64_t k = 0; k < dyn->p_filesz / sizeof(Elf64_Dyn) && dy[k].d_tag != DT_NULL; k++) {
            if (dy[k].d_tag == DT_FLAGS && (dy[k].d_un.d_val & DF_STATIC_TLS)) {
                char msg[512];
                snprintf(msg, sizeof msg,
                         "FFI unit '%s' uses initial-exec thread-local storage (DF_STATIC_TLS), "
                         "which cannot be loaded once per instance; rebuild its C code with "
                         "-ftls-model=global-dynamic",
                         d->name);
                coex_rt_error(msg, loc);
            }
        }
    }
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_W)) continue;
        uint64_t lo = ph[i].p_vaddr, hi = ph[i].p_vaddr + ph[i].p_memsz;
        uint64_t pieces[2][2] = {{lo, hi}, {0, 0}};
        if (relro_hi > relro_lo && relro_lo < hi && relro_hi > lo) {
            pieces[0][1] = relro_lo > lo ? relro_lo : lo;
            pieces[1][0] = relro_hi < hi ? relro_hi : hi;
            pieces[1][1] = hi;
        }
        for (int p = 0; p < 2; p++) {
            if (pieces[p][1] <= pieces[p][0]) continue;
            if (ui->nrel == 4) return; /* unusual layout: never pooled */
            ui->rel[ui->nrel].addr = (unsigned char *)(uintptr_t)pieces[p][0];
            ui->rel[ui->nrel].len = pieces[p][1] - pieces[p][0];
            ui->nrel++;
        }
    }
    if (tls) return;
    /* undefined dynamic symbols, from the section headers */
    if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !IN(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), n))
        return;
    const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff);
    int found = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM) continue;
        if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym)) return;
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (!IN(sh[i].sh_offset, sh[i].sh_size, n) || !IN(str->sh_offset, str->sh_size, n) ||
            str->sh_size == 0 || img[str->sh_offset + str->sh_size - 1] != 0)
            return;
        const Elf64_Sym *sym = (const void *)(img + sh[i].sh_offset);
        const char *names = (const char *)img + str->sh_offset;
        for (uint64_t k = 1; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
            if (sym[k].st_shndx != SHN_UNDEF || sym[k].st_name == 0) continue;
            if (sym[k].st_name >= str->sh_size) return;
            if (!pure_import(names + sym[k].st_name)) return;
        }
        found = 1;
    }
    /* (a system library's imports are not pure: such units are never pooled) */
    ui->poolable = found;
}

ffi_unit_info *coex_ffi_unit(int64_t u, const coex_loc *loc) {
    pthread_once(&units_once, units_init);
    if (!units) coex_rt_error("out of memory", NULL);
    ffi_unit_info *ui = &units[u];
    /* Acquire pairs with the release below: analysed set => ui's fields are. */
    if (__atomic_load_n(&ui->analysed, __ATOMIC_ACQUIRE)) return ui;
    pthread_mutex_lock(&ui->lock);
    if (!ui->analysed) { /* under ui->lock: the only writer */
        analyse(ui, &coex_ffi_unit_table[u], loc);
        /* Publishes ui's fields, written above, to the lock-free read. */
        __atomic_store_n(&ui->analysed, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&ui->lock);
    return ui;
}

/* ---- the instance heap (called by the shim) -------------------------------- */

#define COMMIT_STEP (256u * 1024u)

static void *heap_grow(void *ctx, uint64_t want) {
    ffi_instance *inst = ctx;
    const ffi_config *c = coex_ffi_config();
    if (!inst->heap_base) {
        long page = sysconf(_SC_PAGESIZE);
        uint64_t reserve = (c->instance_heap_max + (uint64_t)page - 1) & ~(uint64_t)(page - 1);
        void *p = reserve ? mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                          : MAP_FAILED;
        if (p == MAP_FAILED) goto cap;
        inst->heap_base = p;
        inst->heap_reserved = reserve;
    }
    if (want <= inst->heap_committed) return inst->heap_base;
    if (want > inst->heap_reserved) goto cap;
    uint64_t target = (want + COMMIT_STEP - 1) / COMMIT_STEP * COMMIT_STEP;
    if (target > inst->heap_reserved) target = inst->heap_reserved;
    uint64_t delta = target - inst->heap_committed;
    /* Reserve first, then check: a concurrent grow may see the sum briefly
     * over the cap and fail, but the committed total never exceeds it. */
    if (atomic_fetch_add(&total_committed, delta) + delta > c->total_heap_max) {
        atomic_fetch_sub(&total_committed, delta);
        goto cap;
    }
    if (mprotect(inst->heap_base + inst->heap_committed, delta, PROT_READ | PROT_WRITE) != 0) {
        atomic_fetch_sub(&total_committed, delta); /* gives back the reservation above */
        goto cap;
    }
    inst->heap_committed = target;
    return inst->heap_base;
cap:
    inst->taint |= COEX_TAINT_CAP;
    atomic_fetch_add(&coex_ffi_stats.cap_hits, 1); /* a count, read only at exit */
    return NULL;
}

static void foreign_free(void *p) { free(p); }
static void *foreign_realloc(void *p, uint64_t n) { return realloc(p, (size_t)n); }

static void heap_release(ffi_instance *inst) {
    if (!inst->heap_base) return;
    munmap(inst->heap_base, inst->heap_reserved);
    atomic_fetch_sub(&total_committed, inst->heap_committed); /* this heap's own share */
    inst->heap_base = NULL;
    inst->heap_reserved = inst->heap_committed = 0;
}

/* (Re)connect the shim: a new handle tag, so handles of an earlier life of
 * this instance (or of any other instance) look up NULL. */
static void shim_connect(ffi_instance *inst) {
    if (!inst->shim) return;
    int64_t t = atomic_fetch_add(&next_tag, 1);
    inst->host.ctx = inst;
    inst->host.grow = heap_grow;
    inst->host.foreign_free = foreign_free;
    inst->host.foreign_realloc = foreign_realloc;
    inst->host.tag = t % ((1 << 23) - 1) + 1;
    inst->events = inst->shim->init(&inst->host);
}

/* ---- load / reset / destroy -------------------------------------------------- */

void coex_ffi_instance_destroy(ffi_instance *inst) {
    if (!inst) return;
    dlclose(inst->handle);
    close(inst->fd); /* only after dlclose, see above */
    heap_release(inst);
    free(inst->syms);
    free(inst->snapshot);
    free(inst);
    atomic_fetch_add(&coex_ffi_stats.destroyed, 1); /* a count, read only at exit */
}

void coex_ffi_instance_reset(ffi_instance *inst) {
    unsigned char *s = inst->snapshot;
    for (int i = 0; i < inst->nranges; i++) {
        memcpy(inst->ranges[i].addr, s, inst->ranges[i].len);
        s += inst->ranges[i].len;
    }
    heap_release(inst);
    inst->taint = 0;
    shim_connect(inst);
}

static int write_all(int fd, const unsigned char *p, int64_t left) {
    while (left > 0) {
        ssize_t w = write(fd, p, (size_t)left);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        left -= w;
    }
    return 0;
}

ffi_instance *coex_ffi_instance_load(int64_t u, ffi_unit_info *ui, const coex_loc *loc) {
    const coex_unit_desc *d = &coex_ffi_unit_table[u];
    int fd = memfd_create(d->name, MFD_CLOEXEC);
    if (fd < 0) return NULL;
    if (write_all(fd, d->image, *d->image_len) != 0) {
        close(fd);
        return NULL;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        int err = errno;
        const char *why = dlerror();
        close(fd);
        if (err == ENOMEM || err == EMFILE || err == ENFILE) return NULL;
        char msg[512];
        snprintf(msg, sizeof msg, "cannot load FFI unit '%s': %s", d->name,
                 why ? why : "unknown dlopen error");
        coex_rt_error(msg, loc);
    }
    ffi_instance *inst = calloc(1, sizeof(ffi_instance));
    void **syms = calloc((size_t)(d->nsyms > 0 ? d->nsyms : 1), sizeof(void *));
    if (!inst || !syms) coex_rt_error("out of memory", NULL);
    inst->unit = u;
    inst->fd = fd;
    inst->handle = handle;
    inst->syms = syms;
    const char *name = d->symbols;
    for (int64_t k = 0; k < d->nsyms; k++) {
        syms[k] = dlsym(handle, name);
        if (!syms[k]) {
            char msg[512];
            snprintf(msg, sizeof msg, "FFI symbol '%s' not found in unit '%s'", name, d->name);
            coex_rt_error(msg, loc);
        }
        name += strlen(name) + 1;
    }
    inst->shim = dlsym(handle, "coex_shim_v1");
    /* snapshot before the shim is connected: the state of a fresh load */
    struct link_map *lm = NULL;
    if (ui->poolable && coex_ffi_config()->pool_max > 0 &&
        dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
        uint64_t total = 0;
        for (int i = 0; i < ui->nrel; i++) total += ui->rel[i].len;
        inst->snapshot = malloc(total ? total : 1);
        if (inst->snapshot) {
            unsigned char *s = inst->snapshot;
            for (int i = 0; i < ui->nrel; i++) {
                inst->ranges[i].addr = (unsigned char *)lm->l_addr + (uintptr_t)ui->rel[i].addr;
                inst->ranges[i].len = ui->rel[i].len;
                memcpy(s, inst->ranges[i].addr, ui->rel[i].len);
                s += ui->rel[i].len;
            }
            inst->nranges = ui->nrel;
        }
    }
    shim_connect(inst);
    atomic_fetch_add(&coex_ffi_stats.created, 1); /* a count, read only at exit */
    return inst;
}
