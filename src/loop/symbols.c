/* symbols.c — naming code addresses for the hygiene reports ("callback on_read", "started at
 * handle_client+0x4c"), and telling asyncheck's own code from the test's (whose callback a watcher
 * has, and whether a start site is inside asyncheck).
 *
 * dladdr alone is not enough: it sees only the dynamic symbol table, and test callbacks are usually
 * static functions of an executable that exports nothing. So the object's file is mapped (the executable
 * through /proc/self/exe) and its .symtab read, falling back to .dynsym for stripped files, then to
 * "object+0xoffset". This runs only when a report needs a name (a failure path), once per object and
 * process; the mapping is kept for the process's life.
 *
 * Harness code: asyncheck is linked into the test executable, so "inside asyncheck" is decided from the
 * symbol table. A global function named ac_* (asyncheck's public and internal API) is asyncheck's. A
 * static function is asyncheck's when its file symbol (STT_FILE, the source's base name) is one of the
 * library's sources AND that file is not a test file (no AC_TEST bodies, ac__body_* / ac__reg_*) AND one
 * of its functions sits next to an ac_* global in the address order — a library object always has its
 * exported ac_* functions among its static ones, while a user's helper that happens to be called mock.c
 * has not. Without a symbol table (stripped executables) nothing is classified as asyncheck's. */
#include "loop_internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct sym {
    uintptr_t addr, size;
    uint32_t name;
    int32_t group; /* index into groups for static functions, else -1 */
    bool local;
} sym;

typedef struct group {
    uint32_t name;
    bool test_file, adjacent;
} group;

typedef struct object {
    uintptr_t base; /* l_addr */
    char *path;
    const char *strtab;
    size_t strsz;
    sym *syms;
    size_t nsyms;
    group *groups;
    size_t ngroups;
    bool classified;
} object;

static object *objects;
static size_t nobjects;

/* The library's source files (base names as STT_FILE symbols hold them). */
static const char *const harness_sources[] = {
    "assert.c",       "peer.c",    "patch.c",       "clock.c",  "loop.c",     "hooks.c",
    "dispatch.c",     "symbols.c", "mock.c",        "proto.c",  "github.c",   "human.c",
    "json.c",         "junit.c",   "result.c",      "tap.c",    "channel.c",  "exec.c",
    "main.c",         "options.c", "registry.c",    "run.c",    "buf.c",      "escape.c",
    "default_main.c", "values.c",  "completions.c", "expect.c", "listener.c",
};

/* ---- reading a file's symbol table, with raw system calls (a test may have replaced open or mmap) ---- */

static bool in_file(size_t size, uint64_t off, uint64_t len) {
    return off <= size && len <= size - off;
}

static int by_addr(const void *a, const void *b) {
    const sym *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return (int)x->local - (int)y->local; /* a global alias first */
}

__attribute__((cold)) static void load_symbols(object *o) {
    long fd = syscall(SYS_openat, AT_FDCWD, o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    long end = syscall(SYS_lseek, fd, 0L, SEEK_END);
    long mapped = -1;
    if (end > (long)sizeof(ElfW(Ehdr)))
        mapped = syscall(SYS_mmap, NULL, (size_t)end, PROT_READ, MAP_PRIVATE, fd, 0L);
    syscall(SYS_close, fd);
    if (mapped == -1 || (unsigned long)mapped > -4096UL)
        return;
    const char *map = (const char *)mapped;
    size_t size = (size_t)end;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) ||
        !in_file(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr))))
        goto unmap;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(map + eh->e_shoff);
    const ElfW(Shdr) *symsec = NULL;
    for (unsigned i = 0; i < eh->e_shnum; i++)
        if (sh[i].sh_type == SHT_SYMTAB)
            symsec = &sh[i];
    if (!symsec)
        for (unsigned i = 0; i < eh->e_shnum; i++)
            if (sh[i].sh_type == SHT_DYNSYM)
                symsec = &sh[i];
    if (!symsec || symsec->sh_link >= eh->e_shnum || !in_file(size, symsec->sh_offset, symsec->sh_size))
        goto unmap;
    const ElfW(Shdr) *strsec = &sh[symsec->sh_link];
    if (!in_file(size, strsec->sh_offset, strsec->sh_size))
        goto unmap;
    o->strtab = map + strsec->sh_offset;
    o->strsz = strsec->sh_size;
    const ElfW(Sym) *s = (const ElfW(Sym) *)(map + symsec->sh_offset);
    size_t n = symsec->sh_size / sizeof *s;
    o->syms = ac__xmalloc((n ? n : 1) * sizeof *o->syms);
    size_t cap_groups = 16;
    o->groups = ac__xmalloc(cap_groups * sizeof *o->groups);
    int32_t current = -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i].st_name >= o->strsz)
            continue;
        int type = ELF64_ST_TYPE(s[i].st_info);
        if (type == STT_FILE) {
            if (o->ngroups == cap_groups) {
                cap_groups *= 2;
                o->groups = ac__xrealloc(o->groups, cap_groups * sizeof *o->groups);
            }
            o->groups[o->ngroups] = (group){.name = s[i].st_name};
            current = (int32_t)o->ngroups++;
            continue;
        }
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s[i].st_shndx == SHN_UNDEF || s[i].st_value == 0)
            continue;
        bool local = ELF64_ST_BIND(s[i].st_info) == STB_LOCAL;
        o->syms[o->nsyms++] = (sym){.addr = o->base + s[i].st_value,
                                    .size = s[i].st_size,
                                    .name = s[i].st_name,
                                    .group = local ? current : -1,
                                    .local = local};
    }
    ac__qsort(o->syms, o->nsyms, sizeof *o->syms, by_addr);
    return; /* the mapping stays: names point into it */
unmap:
    syscall(SYS_munmap, map, size);
}

__attribute__((cold)) static object *object_of(const void *addr, Dl_info *info) {
    struct link_map *lm = NULL;
    if (!dladdr1(addr, info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return NULL;
    const char *path = lm->l_name && *lm->l_name ? lm->l_name : "/proc/self/exe";
    for (size_t i = 0; i < nobjects; i++)
        if (objects[i].base == lm->l_addr && strcmp(objects[i].path, path) == 0)
            return &objects[i];
    objects = ac__xrealloc(objects, (nobjects + 1) * sizeof *objects);
    object *o = &objects[nobjects++];
    *o = (object){.base = lm->l_addr, .path = ac__xstrdup(path)};
    load_symbols(o);
    return o;
}

/* The symbol covering addr, or NULL. */
__attribute__((cold)) static const sym *find(const object *o, uintptr_t a) {
    size_t lo = 0, hi = o->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->syms[mid].addr <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    size_t i = lo - 1;
    while (i > 0 && o->syms[i - 1].addr == o->syms[i].addr)
        i--; /* the first alias: a global one when there is one */
    const sym *s = &o->syms[i];
    uintptr_t end = s->size ? s->addr + s->size : (lo < o->nsyms ? o->syms[lo].addr : s->addr + 1);
    return a < end ? s : NULL;
}

__attribute__((cold)) void ac__sym_format(ac__buf *b, const void *addr, bool with_offset) {
    if (!addr) {
        ac__buf_puts(b, "(none)");
        return;
    }
    Dl_info info;
    object *o = object_of(addr, &info);
    const sym *s = o ? find(o, (uintptr_t)addr) : NULL;
    const char *name = s ? o->strtab + s->name : NULL;
    uintptr_t start = s ? s->addr : 0;
    if (!name && o && info.dli_sname && info.dli_saddr && (uintptr_t)info.dli_saddr <= (uintptr_t)addr) {
        name = info.dli_sname;
        start = (uintptr_t)info.dli_saddr;
    }
    if (name) {
        uintptr_t off = (uintptr_t)addr - start;
        if (off && with_offset)
            ac__buf_printf(b, "%s+0x%lx", name, (unsigned long)off);
        else
            ac__buf_puts(b, name);
    } else if (o && *o->path && strcmp(o->path, "/proc/self/exe") != 0) {
        ac__buf_printf(b, "%s+0x%lx", ac__base_name(o->path), (unsigned long)((uintptr_t)addr - o->base));
    } else {
        ac__buf_printf(b, "%p", addr);
    }
}

/* ---- asyncheck's own code ---- */

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ac_global(const object *o, const sym *s) {
    return !s->local && starts_with(o->strtab + s->name, "ac_");
}

__attribute__((cold)) static void classify(object *o) {
    o->classified = true;
    for (size_t i = 0; i < o->nsyms; i++) {
        const sym *s = &o->syms[i];
        if (!s->local || s->group < 0)
            continue;
        const char *name = o->strtab + s->name;
        group *g = &o->groups[s->group];
        if (starts_with(name, "ac__body_") || starts_with(name, "ac__reg_") || starts_with(name, "ac__sreg_"))
            g->test_file = true;
        if ((i > 0 && ac_global(o, &o->syms[i - 1])) || (i + 1 < o->nsyms && ac_global(o, &o->syms[i + 1])))
            g->adjacent = true;
    }
}

__attribute__((cold)) bool ac__sym_in_harness(const void *addr) {
    Dl_info info;
    object *o = object_of(addr, &info);
    if (!o)
        return false;
    const sym *s = find(o, (uintptr_t)addr);
    if (!s)
        return false;
    if (!s->local)
        return starts_with(o->strtab + s->name, "ac_");
    if (s->group < 0)
        return false;
    if (!o->classified)
        classify(o);
    const group *g = &o->groups[s->group];
    if (g->test_file || !g->adjacent)
        return false;
    const char *file = o->strtab + g->name;
    for (size_t i = 0; i < sizeof harness_sources / sizeof *harness_sources; i++)
        if (strcmp(file, harness_sources[i]) == 0)
            return true;
    return false;
}
