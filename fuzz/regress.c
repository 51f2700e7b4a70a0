/* regress.c — the fuzz targets in "regress mode", for the normal build (no clang, no libFuzzer):
 *
 *   fuzz_regress TARGET=DIR...      (TARGET: proto, cli or filter)
 *
 * runs every file in each DIR through TARGET's entry function, each in a child process (a crash names
 * its file and the rest still run). An input passes when the entry returns twice without aborting and
 * the second run leaves no more heap in use than the first: a leak check that needs no sanitizer
 * (glibc's per-thread cache would count freed chunks as in use, so the runner re-executes itself with
 * it turned off; under ASan, LeakSanitizer checks each child at its exit instead). Exits 0 when every
 * input passed and every TARGET named had at least one input (hidden files such as .gitkeep are not
 * inputs). ctest runs it as selftest.fuzz_regress over fuzz/corpus/ and selftest/fuzz_regress/. */
#include "fuzz.h"

#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    const char *name;
    fuzz_entry fn;
    bool named;   /* on the command line */
    size_t count; /* inputs run */
} targets[] = {
    {"proto", ac_fuzz_proto, false, 0},
    {"cli", ac_fuzz_cli, false, 0},
    {"filter", ac_fuzz_filter, false, 0},
};

static const char tunable[] = "glibc.malloc.tcache_count=0";
static bool leak_check;
/* The current folder's file names: global, so LeakSanitizer sees them as reachable in each child. */
static char **files;
static size_t nfiles;

static int by_string(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool read_file(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    bool ok = buf && !ferror(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    *data = buf;
    *size = n;
    return true;
}

/* In the child: 0 passed, 3 leaked, 4 unreadable; an abort or a sanitizer ends it otherwise. */
static int run_input(fuzz_entry fn, const char *path) {
    uint8_t *data;
    size_t size;
    if (!read_file(path, &data, &size))
        return 4;
    alarm(60); /* a hang is a failure too (libFuzzer: -timeout) */
    /* the first run may set up what stays (typedefs, the environment) */
    fn(data, size);
    size_t before = mallinfo2().uordblks;
    fn(data, size);
    size_t after = mallinfo2().uordblks;
    free(data);
    if (leak_check && after > before) {
        fprintf(stderr, "leaked %zu bytes in one run\n", after - before);
        return 3;
    }
    return 0;
}

static const char *describe(int status, char *buf, size_t n) {
    if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by SIG%s",
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else if (WEXITSTATUS(status) == 3)
        snprintf(buf, n, "leaked memory");
    else if (WEXITSTATUS(status) == 4)
        snprintf(buf, n, "could not be read");
    else
        snprintf(buf, n, "exited %d", WEXITSTATUS(status));
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s TARGET=DIR... (TARGET: proto, cli, filter)\n", argv[0]);
        return 2;
    }
    const char *tunables = getenv("GLIBC_TUNABLES");
    leak_check = tunables && strstr(tunables, tunable);
    if (!leak_check) {
        char value[1024];
        snprintf(value, sizeof value, "%s%s%s", tunables ? tunables : "", tunables ? ":" : "", tunable);
        setenv("GLIBC_TUNABLES", value, 1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "%s: could not re-execute itself without glibc's tcache: no leak check\n", argv[0]);
    }
    size_t ran = 0, failed = 0;
    for (int a = 1; a < argc; a++) {
        const char *eq = strchr(argv[a], '=');
        fuzz_entry fn = NULL;
        size_t target = 0;
        for (size_t t = 0; eq && t < sizeof targets / sizeof *targets; t++)
            if (strlen(targets[t].name) == (size_t)(eq - argv[a]) &&
                strncmp(argv[a], targets[t].name, (size_t)(eq - argv[a])) == 0)
                fn = targets[target = t].fn;
        if (!fn) {
            fprintf(stderr, "%s: '%s' is not TARGET=DIR with TARGET one of proto, cli, filter\n", argv[0],
                    argv[a]);
            return 2;
        }
        const char *dir = eq + 1;
        DIR *d = opendir(dir);
        if (!d) {
            fprintf(stderr, "%s: cannot open %s\n", argv[0], dir);
            return 2;
        }
        files = NULL;
        nfiles = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (e->d_name[0] == '.') /* ., .., and hidden files such as .gitkeep */
                continue;
            files = realloc(files, (nfiles + 1) * sizeof *files);
            size_t len = strlen(dir) + strlen(e->d_name) + 2;
            files[nfiles] = malloc(len);
            snprintf(files[nfiles++], len, "%s/%s", dir, e->d_name);
        }
        closedir(d);
        targets[target].named = true;
        targets[target].count += nfiles;
        if (nfiles > 1)
            qsort(files, nfiles, sizeof *files, by_string);
        for (size_t i = 0; i < nfiles; i++) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 2;
            }
            if (pid == 0)
                exit(run_input(fn, files[i])); /* exit, not _exit: LeakSanitizer checks at exit */
            int status;
            while (waitpid(pid, &status, 0) < 0)
                ;
            ran++;
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                char why[64];
                failed++;
                fprintf(stderr, "FAIL %.*s %s: %s\n", (int)(eq - argv[a]), argv[a], files[i],
                        describe(status, why, sizeof why));
            }
            free(files[i]);
        }
        free(files);
    }
    for (size_t t = 0; t < sizeof targets / sizeof *targets; t++)
        if (targets[t].named && targets[t].count == 0) {
            fprintf(stderr, "%s: no inputs for %s in any of its folders\n", argv[0], targets[t].name);
            return 2;
        }
    printf("fuzz_regress: %zu inputs, %zu failed\n", ran, failed);
    return failed ? 1 : 0;
}
