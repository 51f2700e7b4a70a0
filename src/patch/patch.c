/* patch.c — redirecting calls to a named function by rewriting GOT/PLT slots, and undoing it (the
 * mechanism under ac_replace, the virtual clock and the loop's hooks; the per-test registry of
 * replacements is src/replace/replace.c). See patch.h for what the slot walk reaches. Knows nothing
 * about tests.
 *
 * The walk: dl_iterate_phdr gives every loaded object (the executable first) with its program headers;
 * PT_DYNAMIC gives DT_JMPREL/DT_PLTRELSZ (the PLT's R_*_JUMP_SLOT relocations) and DT_RELA/DT_RELASZ
 * (among others the R_*_GLOB_DAT slots that -fno-plt calls and address-taking use), DT_SYMTAB and
 * DT_STRTAB name each relocation's symbol. A slot is the relocation's r_offset plus the object's load
 * address. Pages inside PT_GNU_RELRO are read-only once the program has started (all of .got.plt with
 * -z now); they are made writable around the store and read-only again after it.
 *
 * The original handed back to the test comes from dlsym(RTLD_DEFAULT), never from a slot: a lazily bound
 * slot holds the PLT's resolver stub until the first call, and calling that stub would rebind the slot to
 * the real function, silently dropping the replacement. */
#include "patch.h"

#include "../util/util.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__LP64__)
#define AC_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define AC_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__) && defined(__LP64__)
#define AC_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define AC_R_GLOB_DAT R_AARCH64_GLOB_DAT
#endif

typedef ElfW(Addr) elf_addr;
typedef ElfW(Dyn) elf_dyn;
typedef ElfW(Half) elf_half;
typedef ElfW(Phdr) elf_phdr;
typedef ElfW(Rela) elf_rela;
typedef ElfW(Sym) elf_sym;

/* ---- the functions the patcher itself needs, reached without any slot a test may have rewritten ---- */

typedef int (*mprotect_fn)(void *, size_t, int);
typedef int (*iterate_fn)(int (*)(struct dl_phdr_info *, size_t, void *), void *);

void *ac__real(const char *symbol) {
    return dlsym(RTLD_DEFAULT, symbol);
}

/* The real mprotect, resolved on first use. */
static mprotect_fn mprotect_real(void) {
    static mprotect_fn fn;
    if (!fn)
        fn = (mprotect_fn)ac__real("mprotect");
    return fn ? fn : mprotect;
}

static int real_mprotect(void *addr, size_t len, int prot) {
    return mprotect_real()(addr, len, prot);
}

static int real_iterate(int (*cb)(struct dl_phdr_info *, size_t, void *), void *ctx) {
    static iterate_fn fn;
    if (!fn)
        fn = (iterate_fn)ac__real("dl_iterate_phdr");
    return fn ? fn(cb, ctx) : dl_iterate_phdr(cb, ctx);
}

static uintptr_t page_size(void) {
    static uintptr_t size;
    if (!size) {
        long n = sysconf(_SC_PAGESIZE);
        size = n > 0 ? (uintptr_t)n : 4096;
    }
    return size;
}

/* ---- walking the loaded objects ---- */

/* The PT_LOAD segment of `info` holding [a, a + n), or NULL. */
static const elf_phdr *load_segment(const struct dl_phdr_info *info, uintptr_t a, size_t n) {
    for (elf_half i = 0; i < info->dlpi_phnum; i++) {
        const elf_phdr *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= start && a + n >= a && a + n <= start + ph->p_memsz)
            return ph;
    }
    return NULL;
}

#ifdef AC_R_JUMP_SLOT
/* A d_ptr of the object's dynamic section as an address. The dynamic linker relocates these in place
 * where .dynamic is writable (the usual case) and leaves them as offsets where it is read-only (the
 * vDSO, some architectures); whichever lands inside the object is the right reading. 0: neither. */
static uintptr_t dyn_addr(const struct dl_phdr_info *info, elf_addr v) {
    if (v && load_segment(info, v, 1))
        return v;
    if (v && load_segment(info, info->dlpi_addr + v, 1))
        return info->dlpi_addr + v;
    return 0;
}

/* The protection the dynamic linker left on the page holding `a`: read-only inside PT_GNU_RELRO (whole
 * pages only, as it protects them), else the PT_LOAD segment's own flags. */
static int page_protection(const struct dl_phdr_info *info, uintptr_t a, bool *relro) {
    *relro = false;
    for (elf_half i = 0; i < info->dlpi_phnum; i++) {
        const elf_phdr *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_GNU_RELRO)
            continue;
        uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(page_size() - 1);
        uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page_size() - 1);
        if (a >= start && a < end) {
            *relro = true;
            return PROT_READ;
        }
    }
    const elf_phdr *load = load_segment(info, a, sizeof(void *));
    int prot = 0;
    if (load && (load->p_flags & PF_R))
        prot |= PROT_READ;
    if (load && (load->p_flags & PF_W))
        prot |= PROT_WRITE;
    if (load && (load->p_flags & PF_X))
        prot |= PROT_EXEC;
    return prot;
}

#endif

typedef struct found_slot {
    ac__got_slot pub;
    uintptr_t base;
    int prot;
} found_slot;

typedef struct walk {
    const char *symbol;
    void (*fn)(const found_slot *s, void *ctx);
    void *ctx;
    long count;
} walk;

#ifdef AC_R_JUMP_SLOT
static void scan_relocs(const struct dl_phdr_info *info, walk *w, uintptr_t rela, size_t size, uintptr_t skip,
                        size_t skip_size, const elf_sym *symtab, const char *strtab, size_t strsz) {
    if (!rela || !size)
        return;
    const elf_rela *r = (const elf_rela *)rela;
    size_t n = size / sizeof *r;
    for (size_t i = 0; i < n; i++) {
        uintptr_t at = (uintptr_t)&r[i];
        if (skip && at >= skip && at < skip + skip_size)
            continue; /* DT_RELASZ covering .rela.plt too, as some linkers write it */
        unsigned long type = ELF64_R_TYPE(r[i].r_info), symi = ELF64_R_SYM(r[i].r_info);
        if ((type != AC_R_JUMP_SLOT && type != AC_R_GLOB_DAT) || symi == 0)
            continue;
        const elf_sym *sym = &symtab[symi];
        int stype = ELF64_ST_TYPE(sym->st_info);
        if (stype == STT_OBJECT || stype == STT_TLS || stype == STT_SECTION || stype == STT_FILE)
            continue;
        if (strsz && sym->st_name >= strsz)
            continue;
        if (strcmp(strtab + sym->st_name, w->symbol) != 0)
            continue;
        uintptr_t slot = info->dlpi_addr + r[i].r_offset;
        if (slot % sizeof(void *) || !load_segment(info, slot, sizeof(void *)))
            continue;
        found_slot s = {.pub = {.object = info->dlpi_name ? info->dlpi_name : "",
                                .slot = (void **)slot,
                                .value = __atomic_load_n((void **)slot, __ATOMIC_ACQUIRE),
                                .jump_slot = type == AC_R_JUMP_SLOT},
                        .base = info->dlpi_addr};
        s.prot = page_protection(info, slot, &s.pub.relro);
        s.pub.prot = s.prot;
        w->count++;
        w->fn(&s, w->ctx);
    }
}

static int visit_object(struct dl_phdr_info *info, size_t size, void *ctx) {
    (void)size;
    walk *w = ctx;
    const elf_dyn *dyn = NULL;
    for (elf_half i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const elf_dyn *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return 0;
    elf_addr jmprel = 0, rela = 0, symtab = 0, strtab = 0;
    size_t pltrelsz = 0, relasz = 0, strsz = 0, relative = 0;
    long pltrel = DT_RELA;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_JMPREL:
            jmprel = dyn->d_un.d_ptr;
            break;
        case DT_PLTRELSZ:
            pltrelsz = dyn->d_un.d_val;
            break;
        case DT_PLTREL:
            pltrel = (long)dyn->d_un.d_val;
            break;
        case DT_RELA:
            rela = dyn->d_un.d_ptr;
            break;
        case DT_RELASZ:
            relasz = dyn->d_un.d_val;
            break;
        case DT_SYMTAB:
            symtab = dyn->d_un.d_ptr;
            break;
        case DT_STRTAB:
            strtab = dyn->d_un.d_ptr;
            break;
        case DT_STRSZ:
            strsz = dyn->d_un.d_val;
            break;
#ifdef DT_RELACOUNT
        case DT_RELACOUNT: /* the table starts with this many R_*_RELATIVE entries (ld.so relies on it too) */
            relative = dyn->d_un.d_val;
            break;
#endif
        }
    }
    if ((!jmprel || !pltrelsz) && (!rela || !relasz))
        return 0; /* nothing bound by the dynamic linker here (the vDSO) */
    const elf_sym *syms = (const elf_sym *)dyn_addr(info, symtab);
    const char *strs = (const char *)dyn_addr(info, strtab);
    if (!syms || !strs)
        return 0;
    uintptr_t plt = pltrel == DT_RELA ? dyn_addr(info, jmprel) : 0;
    uintptr_t other = dyn_addr(info, rela);
    if (other && relative * sizeof(elf_rela) <= relasz) { /* no symbol there: skip them unread */
        other += relative * sizeof(elf_rela);
        relasz -= relative * sizeof(elf_rela);
    }
    scan_relocs(info, w, plt, plt ? pltrelsz : 0, 0, 0, syms, strs, strsz);
    scan_relocs(info, w, other, relasz, plt, plt ? pltrelsz : 0, syms, strs, strsz);
    return 0;
}
#endif

static long walk_slots(const char *symbol, void (*fn)(const found_slot *s, void *ctx), void *ctx) {
#ifdef AC_R_JUMP_SLOT
    walk w = {symbol, fn, ctx, 0};
    real_iterate(visit_object, &w);
    return w.count;
#else
    (void)symbol, (void)fn, (void)ctx;
    return -1;
#endif
}

typedef struct find_ctx {
    void (*fn)(const ac__got_slot *slot, void *ctx);
    void *ctx;
} find_ctx;

static void found_public(const found_slot *s, void *ctx) {
    find_ctx *f = ctx;
    if (f->fn)
        f->fn(&s->pub, f->ctx);
}

long ac__got_find(const char *symbol, void (*fn)(const ac__got_slot *slot, void *ctx), void *ctx) {
    find_ctx f = {fn, ctx};
    return walk_slots(symbol, found_public, &f);
}

/* ---- rewriting slots ---- */

/* Stores `value` into `slot`, whose page has protection `prot`: a page without PROT_WRITE is made
 * writable for the store and given `prot` back after it. False when mprotect refuses. */
/* Inside ac__patch_batch_begin/end, a page made writable stays so until the end of the batch, and the
 * loader's generation is read once (the batch's own code loads and unloads nothing). */
static int batch_depth;
static struct {
    void *page;
    int prot;
} batch_pages[32];
static size_t batch_n;
static bool batch_generation_known;
static unsigned long long batch_generation;

void ac__patch_batch_begin(void) {
    if (batch_depth++ == 0)
        batch_generation_known = false;
}

void ac__patch_batch_end(void) {
    if (batch_depth == 0 || --batch_depth > 0)
        return;
    for (size_t i = 0; i < batch_n; i++)
        real_mprotect(batch_pages[i].page, page_size(), batch_pages[i].prot);
    batch_n = 0;
    batch_generation_known = false;
}

static bool store_slot(void **slot, void *value, int prot) {
    void *page = (void *)((uintptr_t)slot & ~(page_size() - 1));
    bool writable = prot & PROT_WRITE;
    if (!writable && batch_depth > 0) {
        size_t i = 0;
        while (i < batch_n && batch_pages[i].page != page)
            i++;
        if (i == batch_n && batch_n < sizeof batch_pages / sizeof *batch_pages) {
            if (real_mprotect(page, page_size(), prot | PROT_READ | PROT_WRITE) != 0)
                return false;
            batch_pages[batch_n].page = page;
            batch_pages[batch_n++].prot = prot;
        }
        if (i < batch_n) {
            __atomic_store_n(slot, value, __ATOMIC_SEQ_CST);
            return true;
        }
    }
    if (!writable && real_mprotect(page, page_size(), prot | PROT_READ | PROT_WRITE) != 0)
        return false;
    __atomic_store_n(slot, value, __ATOMIC_SEQ_CST);
    if (!writable)
        real_mprotect(page, page_size(), prot);
    return true;
}

typedef struct collect {
    ac__patched_slot *slots;
    size_t n, cap;
} collect;

static void collect_slot(const found_slot *s, void *ctx) {
    collect *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->slots = ac__xrealloc(c->slots, c->cap * sizeof *c->slots);
    }
    c->slots[c->n++] = (ac__patched_slot){.slot = s->pub.slot, .object_base = s->base, .prot = s->prot};
}

/* ---- the slots of a symbol, remembered ----
 * Walking every object's relocations costs tens of microseconds a symbol, and a test may patch the same
 * symbols again and again (ac_replace, fault sweeps, under --no-fork one test after another). The slots
 * found are kept per symbol with the loader's generation (objects loaded and unloaded so far): while
 * nothing was loaded or unloaded since, they are still the slots. Test processes forked later inherit
 * what the runner found. */
typedef struct cached_slots {
    char *symbol;
    unsigned long long generation;
    ac__patched_slot *slots;
    size_t n;
} cached_slots;

static cached_slots *slot_cache;
static size_t slot_cache_n;

static int first_object(struct dl_phdr_info *info, size_t size, void *ctx) {
    (void)size;
    *(unsigned long long *)ctx = (unsigned long long)info->dlpi_adds * 1000003ULL + info->dlpi_subs;
    return 1;
}

/* Objects loaded and unloaded so far. Each reading takes the loader's lock (dl_iterate_phdr): in a batch,
 * the first reading stands for the whole batch (ten patches read it twenty times). */
static unsigned long long loader_generation(void) {
    if (batch_depth > 0 && batch_generation_known)
        return batch_generation;
    unsigned long long g = 0;
    real_iterate(first_object, &g);
    if (batch_depth > 0) {
        batch_generation = g;
        batch_generation_known = true;
    }
    return g;
}

unsigned long long ac__patch_generation(void) {
    return loader_generation();
}

/* The slots of `symbol` into c (a copy); the walk's result (<= 0: none, or unsupported). */
static long find_slots(const char *symbol, collect *c) {
    unsigned long long gen = loader_generation();
    cached_slots *e = NULL;
    for (size_t i = 0; i < slot_cache_n; i++)
        if (strcmp(slot_cache[i].symbol, symbol) == 0)
            e = &slot_cache[i];
    if (!e || e->generation != gen) {
        collect found = {0};
        long n = walk_slots(symbol, collect_slot, &found);
        if (n < 0) {
            free(found.slots);
            return n;
        }
        if (!e) {
            slot_cache = ac__xrealloc(slot_cache, (slot_cache_n + 1) * sizeof *slot_cache);
            e = &slot_cache[slot_cache_n++];
            e->symbol = ac__xstrdup(symbol);
        } else {
            free(e->slots);
        }
        e->generation = gen;
        e->slots = found.slots;
        e->n = found.n;
    }
    c->n = c->cap = e->n;
    c->slots = e->n ? ac__xmalloc(e->n * sizeof *c->slots) : NULL;
    if (e->n)
        memcpy(c->slots, e->slots, e->n * sizeof *c->slots);
    return (long)e->n;
}

/* The patches in effect, oldest first (ac__patch_current); a fixed table, so that applying and undoing
 * allocate nothing for it. A patch is known by its id, which its owner's copies carry (hooks.c and
 * replace.c copy the ac__patch; the loop's permanent hooks free its slots and never undo it), and the
 * table keeps its own copy of the symbol. Past the table's size a patch still works but is not found as
 * the current one. The permanent layers alone take about 70 entries (the loop's hooks and blocking-call
 * checks about 60, the virtual clock's 10), so the table leaves room for as many again per test. */
#define LIVE_MAX 160
typedef struct live_patch {
    unsigned long id;
    char *symbol;
    void *replacement;
} live_patch;
static live_patch live[LIVE_MAX];
static size_t nlive;
static unsigned long last_id;

static void live_remove(unsigned long id) {
    for (size_t i = nlive; i-- > 0;)
        if (live[i].id == id) {
            free(live[i].symbol);
            memmove(&live[i], &live[i + 1], (nlive - i - 1) * sizeof *live);
            nlive--;
            return;
        }
}

void *ac__patch_current(const char *symbol) {
    for (size_t i = nlive; i-- > 0;)
        if (strcmp(live[i].symbol, symbol) == 0)
            return live[i].replacement;
    return NULL;
}

long ac__patch_apply(ac__patch *p, const char *symbol, void *replacement) {
    *p = (ac__patch){0};
    collect c = {0};
    long n = find_slots(symbol, &c);
    if (n <= 0) {
        free(c.slots);
        return n;
    }
    /* Everything that allocates or resolves is done before the first store: from the first store on,
     * the symbol may be malloc, free, write... and the replacement may call through to an original that
     * its caller learns only once this returns. Only stores and mprotect (already resolved) follow. */
    char *name = ac__xstrdup(symbol);
    char *live_name = nlive < LIVE_MAX ? ac__xstrdup(symbol) : NULL;
    unsigned long long generation = loader_generation();
    (void)page_size();
    (void)mprotect_real();
    /* Found first, written after: the loader's lock, held during the walk, is not held while storing. */
    for (size_t i = 0; i < c.n; i++) {
        ac__patched_slot *s = &c.slots[i];
        s->old = __atomic_load_n(s->slot, __ATOMIC_ACQUIRE);
        if (!store_slot(s->slot, replacement, s->prot)) {
            while (i-- > 0)
                store_slot(c.slots[i].slot, c.slots[i].old, c.slots[i].prot);
            free(c.slots);
            free(name);
            free(live_name);
            return -2;
        }
    }
    p->symbol = name;
    p->generation = generation;
    p->replacement = replacement;
    p->slots = c.slots;
    p->nslots = c.n;
    p->live_id = ++last_id;
    if (live_name)
        live[nlive++] = (live_patch){p->live_id, live_name, replacement};
    return (long)c.n;
}

typedef struct loaded_ctx {
    uintptr_t base, slot;
    bool found;
} loaded_ctx;

static int find_loaded(struct dl_phdr_info *info, size_t size, void *ctx) {
    (void)size;
    loaded_ctx *l = ctx;
    if (info->dlpi_addr == l->base && load_segment(info, l->slot, sizeof(void *))) {
        l->found = true;
        return 1;
    }
    return 0;
}

/* Whether the object that held `s` is still loaded (a dlclose during the test unmaps its slots). */
static bool still_loaded(const ac__patched_slot *s) {
    loaded_ctx l = {s->object_base, (uintptr_t)s->slot, false};
    real_iterate(find_loaded, &l);
    return l.found;
}

void ac__patch_undo(ac__patch *p) {
    if (p->live_id)
        live_remove(p->live_id);
    bool unchanged = p->nslots && loader_generation() == p->generation; /* every object still loaded */
    for (size_t i = p->nslots; i-- > 0;) {
        ac__patched_slot *s = &p->slots[i];
        if (unchanged || still_loaded(s))
            store_slot(s->slot, s->old, s->prot);
    }
    free(p->slots);
    free(p->symbol);
    *p = (ac__patch){0};
}

bool ac__maps_perms(const void *addr, char perms[5]) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long start, end;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, p) == 3 && (uintptr_t)addr >= start &&
            (uintptr_t)addr < end) {
            memcpy(perms, p, 5);
            found = true;
        }
    }
    fclose(f);
    return found;
}
