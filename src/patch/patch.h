/* patch.h — redirecting calls to a named function by rewriting the GOT/PLT slots of the loaded objects
 * (the executable and every shared library), and undoing it: the support module under ac_replace()
 * (src/replace/replace.c keeps the per-test bookkeeping), the virtual clock and the loop's hooks. Knows
 * nothing about tests.
 *
 * What it reaches: every call that goes through a slot bound by the dynamic linker — calls from shared
 * libraries (lazily bound or -z now), calls from the executable to shared libraries, -fno-plt calls
 * (R_X86_64_GLOB_DAT slots). What it cannot reach: calls inside the executable to its own functions and
 * calls a library makes to itself without its PLT (-fno-semantic-interposition, hidden or protected
 * symbols); function pointers stored in data (R_X86_64_64 relocations); objects dlopen'd after the patch.
 *
 * Everything here runs on the test's thread. Slots are rewritten with single aligned pointer stores, so a
 * concurrent caller sees either the old or the new target. */
#ifndef AC_PATCH_H
#define AC_PATCH_H

#include <stdbool.h>
#include <stddef.h>

/* One slot that refers to a symbol. */
typedef struct ac__got_slot {
    const char *object; /* the loaded object's path as the dynamic linker knows it; "" for the executable */
    void **slot;        /* the slot's address */
    void *value;        /* its value when it was found: a lazily bound slot still holds the resolver stub */
    bool jump_slot;     /* R_*_JUMP_SLOT (a PLT call); else R_*_GLOB_DAT (-fno-plt, -z now, &fn) */
    bool relro;         /* the slot lies on a page the dynamic linker made read-only (PT_GNU_RELRO) */
    int prot;           /* PROT_* of the slot's page as the dynamic linker left it */
} ac__got_slot;

/* Calls fn for every slot of every loaded object whose relocation names `symbol` (functions only: data
 * symbols are skipped). Returns the number of slots, or -1 when this architecture is not supported. */
long ac__got_find(const char *symbol, void (*fn)(const ac__got_slot *slot, void *ctx), void *ctx);

/* The function the dynamic linker binds `symbol` to in the global scope (dlsym(RTLD_DEFAULT)), whatever
 * any slot holds now: the way to reach the real function while it is replaced. NULL when not found. */
void *ac__real(const char *symbol);

/* The replacement of the newest patch of `symbol` still applied (ac__patch_apply, not yet undone), or
 * NULL: for a replacement applied on top of another that must call through to it (a fault injected into
 * a function the loop's hooks already watch) rather than to the real function. */
void *ac__patch_current(const char *symbol);

/* One application of a replacement: the slots rewritten and what each held before. */
typedef struct ac__patched_slot {
    void **slot;
    void *old;
    unsigned long object_base; /* dlpi_addr of the object, to tell whether it is still loaded */
    int prot;                  /* PROT_* to leave the page with */
} ac__patched_slot;

typedef struct ac__patch {
    char *symbol;
    void *replacement;
    ac__patched_slot *slots;
    size_t nslots;
    unsigned long long generation; /* the loader's, when applied */
    unsigned long live_id;         /* its entry among the patches in effect (ac__patch_current) */
} ac__patch;

/* Rewrites every slot of `symbol` to `replacement`, making read-only (RELRO) pages writable for the
 * store and read-only again after it. Returns the number of slots rewritten (0: none refers to the
 * symbol, nothing changed), or -1 when this architecture is not supported. `p` is filled for undo. */
long ac__patch_apply(ac__patch *p, const char *symbol, void *replacement);
/* A number that changes whenever an object is loaded or unloaded (dlopen, dlclose). */
unsigned long long ac__patch_generation(void);
/* Between these, pages made writable to rewrite slots stay writable and get their protection back once,
 * at the end (nestable): for code that applies or undoes several patches together. */
void ac__patch_batch_begin(void);
void ac__patch_batch_end(void);
/* Writes back what every slot held before, in reverse order, skipping objects unloaded since; frees
 * what `p` owns. */
void ac__patch_undo(ac__patch *p);

/* The protection of the page holding `addr` as /proc/self/maps shows it ("r--p", "rw-p", ...) into
 * perms[5]. False when no mapping holds it. For tests. */
bool ac__maps_perms(const void *addr, char perms[5]);

#endif
