/* outfile.c — report files and stdout as the reporters' FILEs (see outfile.h): resolving what a report
 * path names, writing through what is not a regular file, waiting on a non-blocking descriptor instead
 * of losing text, keeping the first write error for one line at the end, and putting a whole report
 * in place (O_TMPFILE + linkat, or a named temporary file cleaned up on fatal signals). */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ac__outfile {
    char *what;  /* "--junit", "XML_OUTPUT_FILE", ... */
    char *path;  /* as given; NULL for stdout */
    char *final; /* whole reports: the name the report takes at the end (symlinks followed) */
    char *temp;  /* whole reports in a named temporary file: its name */
    int fd;
    bool whole;   /* put in place at the close (else written in place) */
    bool own_fd;  /* close fd at the end (not stdout's) */
    bool regular; /* fd is a regular file (fsync it) */
    FILE *stream;
    int error; /* the first errno a write met */
};

/* ---- writing: every byte, waiting while a non-blocking descriptor is full ---- */

static ssize_t cookie_write(void *cookie, const char *p, size_t n) {
    ac__outfile *f = cookie;
    size_t done = 0;
    while (!f->error && done < n) {
        ssize_t w = write(f->fd, p + done, n - done);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {f->fd, POLLOUT, 0};
            (void)poll(&pfd, 1, -1); /* a full pipe or terminal: wait for the reader */
        } else if (!(w < 0 && errno == EINTR)) {
            f->error = w < 0 ? errno : EIO;
        }
    }
    return (ssize_t)n; /* after an error the rest is dropped: the close names the error once */
}

static int cookie_close(void *cookie) {
    (void)cookie; /* the descriptor outlives the stream: a whole report is linked in after the flush */
    return 0;
}

static ac__outfile *outfile_new(const char *what, const char *path, int fd, bool own_fd) {
    ac__outfile *f = ac__xcalloc(1, sizeof *f);
    f->what = ac__xstrdup(what);
    f->path = path ? ac__xstrdup(path) : NULL;
    f->fd = fd;
    f->own_fd = own_fd;
    struct stat st;
    f->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    f->stream = fopencookie(f, "w", (cookie_io_functions_t){.write = cookie_write, .close = cookie_close});
    if (!f->stream) {
        fprintf(stderr, "asyncheck: out of memory\n");
        exit(3);
    }
    return f;
}

/* ---- naming a temporary file ---- */

/* Temporary names stay short whatever the target's name is: ".asyncheck-" and 6 random characters in
 * the target's directory (a name near NAME_MAX plus a suffix would not fit). */
static char *temp_name(const char *dir) {
    static unsigned long long state;
    if (!state) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        state = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32) ^
                (unsigned long long)ts.tv_sec;
    }
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned long long r = ac__splitmix64(&state);
    char tail[7];
    for (int i = 0; i < 6; i++, r /= 62)
        tail[i] = alphabet[r % 62];
    tail[6] = '\0';
    ac__buf b = {0};
    ac__buf_printf(&b, "%s/.asyncheck-%s", dir, tail);
    return ac__buf_take(&b);
}

/* ---- named temporary files are removed when a signal ends the runner ---- */

#define MAX_PENDING 4
static char *volatile pending[MAX_PENDING];
static const int cleanup_signals[] = {SIGHUP,  SIGINT, SIGTERM, SIGPIPE, SIGXFSZ,
                                      SIGSEGV, SIGBUS, SIGABRT, SIGFPE,  SIGILL};

static void cleanup_on_signal(int sig) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i])
            unlink(pending[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void pending_add(char *name) {
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
        struct sigaction old;
        if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO)) /* a handler or SIG_IGN someone set stays */
            signal(cleanup_signals[i], cleanup_on_signal);
    }
    for (int i = 0; i < MAX_PENDING; i++)
        if (!pending[i]) {
            pending[i] = name;
            return;
        }
}

static void pending_remove(const char *name) {
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i] == name)
            pending[i] = NULL;
}

/* ---- opening ---- */

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ac__xstrdup(".");
    if (slash == path)
        return ac__xstrdup("/");
    ac__buf b = {0};
    ac__buf_append(&b, path, (size_t)(slash - path));
    return ac__buf_take(&b);
}

static bool is_proc_link(const char *p) {
    return strncmp(p, "/proc/", 6) == 0 || strncmp(p, "/dev/fd/", 8) == 0;
}

/* Follows path's symlinks to the file a whole report replaces. Returns it (malloc'd) with *exists and
 * *st set, or NULL with errno set. *through: a hop was a /proc fd link (/dev/stdout): write through. */
static char *final_target(const char *path, struct stat *st, bool *exists, bool *through) {
    char *p = ac__xstrdup(path);
    *through = is_proc_link(p);
    for (int hops = 0;; hops++) {
        if (lstat(p, st) < 0) {
            if (errno != ENOENT) {
                free(p);
                return NULL;
            }
            *exists = false;
            return p;
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = true;
            return p;
        }
        char target[PATH_MAX];
        ssize_t n = hops < 40 ? readlink(p, target, sizeof target - 1) : -1;
        if (n < 0) {
            int e = hops < 40 ? errno : ELOOP;
            free(p);
            errno = e;
            return NULL;
        }
        target[n] = '\0';
        ac__buf next = {0};
        if (target[0] == '/') {
            ac__buf_puts(&next, target);
        } else {
            char *dir = dir_of(p);
            ac__buf_printf(&next, "%s/%s", dir, target);
            free(dir);
        }
        free(p);
        p = ac__buf_take(&next);
        *through |= is_proc_link(p);
    }
}

static int open_fail(ac__buf *err, const char *what, const char *path, int e) {
    char *shown = ac__one_line(path);
    ac__buf_printf(err, "%s: cannot write '%s': %s", what, shown, strerror(e));
    free(shown);
    return -1;
}

/* Creates a fresh named temporary file in dir (a new random name on a clash, 100 tries) and registers it
 * for removal on a signal. Returns its fd and sets *temp to its malloc'd name, or returns -1 with errno
 * set and *temp NULL. */
static int open_named_temp(const char *dir, char **temp) {
    *temp = NULL;
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        free(*temp);
        *temp = temp_name(dir);
        fd = open(*temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        free(*temp);
        *temp = NULL;
        errno = e;
        return -1;
    }
    pending_add(*temp);
    return fd;
}

static ac__outfile *open_whole(const char *what, const char *path, int flags, ac__buf *err) {
    struct stat st;
    bool exists, through;
    char *final = final_target(path, &st, &exists, &through);
    if (!final) {
        open_fail(err, what, path, errno);
        return NULL;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        free(final);
        open_fail(err, what, path, EISDIR);
        return NULL;
    }
    if (exists && (!S_ISREG(st.st_mode) || through)) {
        /* a device, fifo, socket or terminal, or a file behind /dev/stdout: never replaced */
        free(final);
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (S_ISREG(st.st_mode) ? O_APPEND : 0));
        if (fd < 0) {
            open_fail(err, what, path, errno);
            return NULL;
        }
        return outfile_new(what, path, fd, true);
    }
    char *dir = dir_of(final);
    int fd = -1;
    char *temp = NULL;
    if (!(flags & AC_OUTFILE_NAMED_TEMP)) {
        fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            int e = errno;
            free(dir);
            free(final);
            open_fail(err, what, path, e);
            return NULL;
        }
    }
    if (fd < 0 && (fd = open_named_temp(dir, &temp)) < 0) { /* no O_TMPFILE here */
        int e = errno;
        free(dir);
        free(final);
        open_fail(err, what, path, e);
        return NULL;
    }
    free(dir);
    ac__outfile *f = outfile_new(what, path, fd, true);
    f->whole = true;
    f->final = final;
    f->temp = temp;
    return f;
}

ac__outfile *ac__outfile_open(const char *what, const char *path, int flags, ac__buf *err) {
    if (flags & AC_OUTFILE_WHOLE)
        return open_whole(what, path, flags, err);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd < 0) {
        open_fail(err, what, path, errno);
        return NULL;
    }
    return outfile_new(what, path, fd, true);
}

ac__outfile *ac__outfile_stdout(const char *what) {
    return outfile_new(what, NULL, 1, false);
}

FILE *ac__outfile_stream(ac__outfile *f) {
    return f->stream;
}

/* ---- putting a whole report in place ---- */

/* Gives the unnamed file fd the name `name`. */
static int link_fd(int fd, const char *name) {
    if (linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
        return 0;
    if (errno == EEXIST)
        return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Copies what fd holds into a fresh named temporary file in dir (where linking fd is impossible). */
static char *copy_to_temp(int fd, const char *dir) {
    char *temp;
    int out = open_named_temp(dir, &temp);
    if (out < 0)
        return NULL;
    char chunk[65536];
    off_t off = 0;
    ssize_t n;
    bool ok = true;
    while (ok && (n = pread(fd, chunk, sizeof chunk, off)) != 0) {
        if (n < 0) {
            ok = errno == EINTR;
            continue;
        }
        for (ssize_t done = 0, w; ok && done<n; done += w> 0 ? w : 0)
            ok = (w = write(out, chunk + done, (size_t)(n - done))) > 0 || (w < 0 && errno == EINTR);
        off += n;
    }
    ok = ok && fsync(out) == 0;
    int e = errno;
    close(out);
    if (!ok) {
        unlink(temp);
        pending_remove(temp);
        free(temp);
        errno = e;
        return NULL;
    }
    return temp;
}

/* Renames the named temporary file over the target. */
static int commit_named(ac__outfile *f) {
    int rc = rename(f->temp, f->final);
    int e = errno;
    if (rc < 0)
        unlink(f->temp);
    pending_remove(f->temp);
    free(f->temp);
    f->temp = NULL;
    errno = e;
    return rc;
}

static int commit_whole(ac__outfile *f) {
    if (f->temp)
        return commit_named(f);
    if (link_fd(f->fd, f->final) == 0) /* the target did not exist: the report appears whole */
        return 0;
    char *dir = dir_of(f->final);
    int rc = -1;
    for (int tries = 0; rc < 0 && tries < 100; tries++) { /* link aside, then rename over the target */
        free(f->temp);
        f->temp = temp_name(dir);
        rc = link_fd(f->fd, f->temp);
        if (rc < 0 && errno != EEXIST)
            break;
    }
    if (rc < 0) {
        free(f->temp);
        f->temp = copy_to_temp(f->fd, dir); /* neither AT_EMPTY_PATH nor /proc: copy */
        rc = f->temp ? 0 : -1;
    } else {
        pending_add(f->temp);
    }
    free(dir);
    return rc < 0 ? -1 : commit_named(f);
}

static void outfile_free(ac__outfile *f) {
    if (f->temp) {
        unlink(f->temp);
        pending_remove(f->temp);
    }
    if (f->own_fd && f->fd >= 0)
        close(f->fd);
    free(f->what);
    free(f->path);
    free(f->final);
    free(f->temp);
    free(f);
}

int ac__outfile_close(ac__outfile *f) {
    fclose(f->stream); /* flushes through cookie_write, which keeps any error */
    if (!f->error && f->regular && f->whole && fsync(f->fd) < 0)
        f->error = errno;
    if (!f->error && f->whole && f->final && commit_whole(f) < 0)
        f->error = errno;
    int rc = 0;
    if (f->error) {
        if (f->path) {
            char *shown = ac__one_line(f->path);
            fprintf(stderr, "asyncheck: %s: could not write '%s': %s\n", f->what, shown, strerror(f->error));
            free(shown);
        } else {
            fprintf(stderr, "asyncheck: %s: could not write to stdout: %s\n", f->what, strerror(f->error));
        }
        rc = -1;
    }
    outfile_free(f);
    return rc;
}

void ac__outfile_discard(ac__outfile *f) {
    fclose(f->stream);
    outfile_free(f);
}
