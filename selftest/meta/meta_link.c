/* meta_link.c — what a test executable linked with asyncheck loads: libev, libffi and libc (and, in a
 * sanitizer build, its runtime), nothing more. Every library mapped costs each test's fork and exit (its
 * mappings are copied and torn down: docs/PERFORMANCE.md), so a library asyncheck comes to need (libm,
 * for one llround, until 2026-12) fails here. Read from this executable's own dynamic section
 * (DT_NEEDED; the linker drops a library nothing calls). */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "meta.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

typedef struct needed {
    char names[16][64];
    size_t n;
} needed;

static int main_program(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    needed *nd = data;
    const ElfW(Dyn) *dyn = NULL;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return 1;
    uintptr_t strtab = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_STRTAB)
            strtab = d->d_un.d_ptr;
    if (strtab < info->dlpi_addr) /* glibc relocates it in place where .dynamic is writable */
        strtab += info->dlpi_addr;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL && nd->n < 16; d++)
        if (d->d_tag == DT_NEEDED)
            snprintf(nd->names[nd->n++], sizeof nd->names[0], "%s", (const char *)strtab + d->d_un.d_val);
    return 1; /* the main program comes first */
}

static bool allowed(const char *name) {
    static const char *const prefixes[] = {"libev.so",   "libffi.so",   "libc.so",   "ld-linux",
                                           "libasan.so", "libubsan.so", "libtsan.so"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

AC_TEST(link, a_test_executable_needs_libev_libffi_and_libc_only) {
    needed nd = {0};
    dl_iterate_phdr(main_program, &nd);
    AC_ASSERT_GE(nd.n, 3u); /* libev, libffi, libc at least: the reading works */
    bool ev = false;
    for (size_t i = 0; i < nd.n; i++) {
        ac_note(t, "NEEDED %s", nd.names[i]);
        AC_EXPECT_TRUE(allowed(nd.names[i]));
        ev = ev || strncmp(nd.names[i], "libev.so", 8) == 0;
    }
    AC_EXPECT_TRUE(ev);
}
