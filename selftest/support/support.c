/* support.c — see support.h. */
#include "support.h"

#include <asyncheck.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const cleaned_env[] = {
    "HARNESS_ACTIVE", "HARNESS_VERSION", "NO_COLOR", "AC_TIMEOUT_MULTIPLIER", "TERM", "AC_TIMELINE", NULL};

void run_process(const char *const *argv, const char *const *env, proc *p) {
    *p = (proc){0};
    int out[2], err[2];
    AC_ASSERT_EQ(pipe(out), 0);
    AC_ASSERT_EQ(pipe(err), 0);
    fflush(NULL);
    pid_t pid = fork();
    AC_ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        for (size_t i = 0; cleaned_env[i]; i++)
            unsetenv(cleaned_env[i]);
        for (size_t i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
                setenv(name, eq + 1, 1);
            } else {
                unsetenv(env[i]);
            }
        }
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(126);
    }
    close(out[1]), close(err[1]);
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    ac__buf *bufs[2] = {&p->out, &p->err};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[65536];
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                ac__buf_append(bufs[i], chunk, (size_t)n);
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ac__buf_puts(&p->out, "");
    ac__buf_puts(&p->err, "");
}

void proc_free(proc *p) {
    ac__buf_free(&p->out);
    ac__buf_free(&p->err);
}

/* ---- TAP ---- */

static bool starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool bad(ac__buf *why, int lineno, const char *line, const char *what) {
    ac__buf_printf(why, "line %d: %s: '%s'", lineno, what, line);
    return false;
}

bool tap_parse(const char *text, tap_doc *doc, ac__buf *why) {
    *doc = (tap_doc){.plan = -1};
    char *copy = ac__xstrdup(text);
    char *save = NULL;
    int lineno = 0;
    bool in_yaml = false, ok = true;
    ac__buf yaml = {0};
    for (char *line = strtok_r(copy, "\n", &save); line && ok; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "TAP version 14") == 0)
                doc->version = 14;
            else if (strcmp(line, "TAP version 13") == 0)
                doc->version = 13;
            else
                ok = bad(why, lineno, line, "expected the version line");
            continue;
        }
        if (in_yaml) {
            if (strcmp(line, "  ...") == 0) {
                in_yaml = false;
                doc->points[doc->n - 1].yaml = ac__buf_take(&yaml);
            } else if (!starts(line, "  ") || starts(line, "  ---")) {
                ok = bad(why, lineno, line, "YAML block line not indented by two spaces");
            } else {
                ac__buf_printf(&yaml, "%s\n", line);
            }
            continue;
        }
        if (lineno == 2) {
            int n = -1, consumed = 0;
            if (sscanf(line, "1..%d%n", &n, &consumed) != 1 || n < 0 ||
                (line[consumed] && !(n == 0 && starts(line + consumed, " # SKIP"))))
                ok = bad(why, lineno, line, "expected the plan 1..N");
            doc->plan = n;
            continue;
        }
        if (strcmp(line, "  ---") == 0) {
            if (doc->n == 0 || doc->points[doc->n - 1].yaml)
                ok = bad(why, lineno, line, "YAML block not right after a test point");
            in_yaml = true;
            yaml.len = 0;
            continue;
        }
        if (line[0] == '#')
            continue;
        bool is_ok = starts(line, "ok ");
        if (!is_ok && !starts(line, "not ok ")) {
            ok = bad(why, lineno, line, "not a TAP line");
            continue;
        }
        const char *p = line + (is_ok ? 3 : 7);
        char *end;
        long num = strtol(p, &end, 10);
        if (end == p || num != (long)doc->n + 1) {
            ok = bad(why, lineno, line, "test point out of sequence");
            continue;
        }
        if (!starts(end, " - ")) {
            ok = bad(why, lineno, line, "test point without ' - description'");
            continue;
        }
        const char *desc = end + 3;
        const char *hash = NULL;
        for (const char *q = desc; *q; q++) {
            if (*q == '\\' && q[1]) {
                q++;
                continue;
            }
            if (*q == '#') {
                hash = q;
                break;
            }
        }
        tap_point pt = {.ok = is_ok, .number = (int)num};
        if (hash) {
            size_t dn = (size_t)(hash - desc);
            while (dn && desc[dn - 1] == ' ')
                dn--;
            pt.name = strndup(desc, dn);
            const char *d = hash + 1;
            while (*d == ' ')
                d++;
            pt.directive = ac__xstrdup(d);
        } else {
            pt.name = ac__xstrdup(desc);
        }
        doc->points = ac__xrealloc(doc->points, (doc->n + 1) * sizeof *doc->points);
        doc->points[doc->n++] = pt;
    }
    if (ok && in_yaml)
        ok = bad(why, lineno, "", "YAML block not closed");
    if (ok && lineno < 2)
        ok = bad(why, lineno, "", "missing version or plan");
    if (ok && doc->plan != (int)doc->n) {
        ac__buf_printf(why, "plan says %d tests, found %zu", doc->plan, doc->n);
        ok = false;
    }
    ac__buf_free(&yaml);
    free(copy);
    return ok;
}

void tap_free(tap_doc *doc) {
    for (size_t i = 0; i < doc->n; i++) {
        free(doc->points[i].name);
        free(doc->points[i].directive);
        free(doc->points[i].yaml);
    }
    free(doc->points);
    *doc = (tap_doc){0};
}

const tap_point *tap_find(const tap_doc *doc, const char *name) {
    for (size_t i = 0; i < doc->n; i++)
        if (strcmp(doc->points[i].name, name) == 0)
            return &doc->points[i];
    return NULL;
}

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void put_utf8(ac__buf *out, unsigned cp) {
    char b[4];
    if (cp < 0x80) {
        b[0] = (char)cp;
        ac__buf_append(out, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F));
        ac__buf_append(out, b, 2);
    } else {
        b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        b[2] = (char)(0x80 | (cp & 0x3F));
        ac__buf_append(out, b, 3);
    }
}

bool yaml_get(const char *yaml, const char *prefix, ac__buf *out) {
    out->len = 0;
    ac__buf_puts(out, "");
    if (!yaml)
        return false;
    size_t plen = strlen(prefix);
    for (const char *line = yaml; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len >= plen && strncmp(line, prefix, plen) == 0) {
            const char *v = line + plen, *end = line + len;
            if (*v != '"') {
                ac__buf_append(out, v, (size_t)(end - v));
                return true;
            }
            for (v++; v < end && *v != '"'; v++) {
                if (*v != '\\') {
                    ac__buf_append(out, v, 1);
                    continue;
                }
                v++;
                switch (*v) {
                case 'n':
                    ac__buf_puts(out, "\n");
                    break;
                case 't':
                    ac__buf_puts(out, "\t");
                    break;
                case 'r':
                    ac__buf_puts(out, "\r");
                    break;
                case 'x':
                    put_utf8(out, (unsigned)(hexval(v[1]) * 16 + hexval(v[2]))), v += 2;
                    break;
                case 'u': {
                    unsigned cp = 0;
                    for (int k = 1; k <= 4; k++)
                        cp = cp * 16 + (unsigned)hexval(v[k]);
                    put_utf8(out, cp);
                    v += 4;
                    break;
                }
                default:
                    ac__buf_append(out, v, 1);
                }
            }
            return true;
        }
        line += len + (nl ? 1 : 0);
    }
    return false;
}

/* ---- files and JUnit ---- */

void xpath(const char *file, const char *expr, ac__buf *out) {
    proc p;
    const char *argv[] = {"xmllint", "--xpath", expr, file, NULL};
    run_process(argv, NULL, &p);
    AC_ASSERT_NE(p.status, 126); /* xmllint missing: apt-get install libxml2-utils */
    out->len = 0;
    ac__buf_append(out, p.out.data, p.out.len);
    while (out->len && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    proc_free(&p);
}

char *make_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    ac__buf b = {0};
    ac__buf_printf(&b, "%s/asyncheck-selftest.XXXXXX", base && *base ? base : "/tmp");
    char *dir = ac__buf_take(&b);
    AC_ASSERT_NOT_NULL(mkdtemp(dir));
    return dir;
}

void rm_tree(const char *dir) {
    proc p;
    const char *argv[] = {"rm", "-rf", dir, NULL};
    run_process(argv, NULL, &p);
    proc_free(&p);
}

char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    ac__buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ac__buf_append(&b, chunk, n);
    fclose(f);
    return ac__buf_take(&b);
}

char *dir_entries(const char *dir) {
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    ac__buf b = {0};
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
            ac__buf_printf(&b, "%s%s", b.len ? " " : "", list[i]->d_name);
        free(list[i]);
    }
    free(n >= 0 ? list : NULL);
    return ac__buf_take(&b);
}

char *path_in(const char *dir, const char *name) {
    ac__buf b = {0};
    ac__buf_printf(&b, "%s/%s", dir, name);
    return ac__buf_take(&b);
}
