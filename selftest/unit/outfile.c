/* outfile.c — report files (src/report/outfile.c) from the inside: a whole report appears only when
 * closed, replaces an existing file, falls back to a named temporary file that is removed on a fatal
 * signal, leaves nothing when discarded, and writes through /proc fd links and symlinks. */
#include <asyncheck.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/outfile.h"
#include "support.h"

static void expect_entries(const char *dir, const char *want) {
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, want);
    free(names);
}

static void expect_text(const char *path, const char *want) {
    char *text = read_file(path);
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_EQ(text, want);
    free(text);
}

AC_TEST(outfile, a_whole_report_appears_only_when_closed) {
    char *dir = make_temp_dir();
    char *path = path_in(dir, "out.xml");
    ac__buf err = {0};
    ac__outfile *f = ac__outfile_open("--junit", path, AC_OUTFILE_WHOLE, &err);
    AC_ASSERT_NOT_NULL(f);
    fputs("<report/>\n", ac__outfile_stream(f));
    fflush(ac__outfile_stream(f));
    expect_entries(dir, ""); /* an unnamed file until then */
    AC_EXPECT_EQ(ac__outfile_close(f), 0);
    expect_entries(dir, "out.xml");
    expect_text(path, "<report/>\n");
    free(path);
    rm_tree(dir);
    free(dir);
}

AC_TEST(outfile, a_whole_report_replaces_an_existing_file) {
    char *dir = make_temp_dir();
    char *path = path_in(dir, "out.xml");
    FILE *old = fopen(path, "w");
    fputs("old", old);
    fclose(old);
    ac__buf err = {0};
    ac__outfile *f = ac__outfile_open("--junit", path, AC_OUTFILE_WHOLE, &err);
    AC_ASSERT_NOT_NULL(f);
    fputs("new", ac__outfile_stream(f));
    expect_text(path, "old"); /* untouched until the close */
    AC_EXPECT_EQ(ac__outfile_close(f), 0);
    expect_text(path, "new");
    expect_entries(dir, "out.xml");
    free(path);
    rm_tree(dir);
    free(dir);
}

AC_TEST(outfile, a_named_temporary_file_is_renamed_into_place) {
    char *dir = make_temp_dir();
    char *path = path_in(dir, "out.xml");
    ac__buf err = {0};
    ac__outfile *f = ac__outfile_open("--junit", path, AC_OUTFILE_WHOLE | AC_OUTFILE_NAMED_TEMP, &err);
    AC_ASSERT_NOT_NULL(f);
    fputs("whole", ac__outfile_stream(f));
    char *names = dir_entries(dir);
    AC_EXPECT_EQ(strlen(names), strlen(".asyncheck-XXXXXX")); /* short whatever the target's name */
    AC_EXPECT_EQ(strncmp(names, ".asyncheck-", 11), 0);
    free(names);
    AC_EXPECT_EQ(ac__outfile_close(f), 0);
    expect_entries(dir, "out.xml");
    expect_text(path, "whole");
    free(path);
    rm_tree(dir);
    free(dir);
}

/* A child opens a whole report in a named temporary file and dies of `sig`. */
static void die_with_a_named_temp(const char *dir, int sig) {
    char *path = path_in(dir, "out.xml");
    fflush(NULL);
    pid_t pid = fork();
    AC_ASSERT_GE(pid, 0);
    if (pid == 0) {
        signal(sig, SIG_DFL);
        ac__buf err = {0};
        ac__outfile *f = ac__outfile_open("--junit", path, AC_OUTFILE_WHOLE | AC_OUTFILE_NAMED_TEMP, &err);
        if (!f)
            _exit(2);
        fputs("half", ac__outfile_stream(f));
        fflush(ac__outfile_stream(f));
        raise(sig);
        _exit(3);
    }
    int status;
    AC_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    AC_EXPECT_TRUE(WIFSIGNALED(status));
    AC_EXPECT_EQ(WIFSIGNALED(status) ? WTERMSIG(status) : 0, sig); /* still dies of it */
    expect_entries(dir, "");
    free(path);
}

AC_TEST(outfile, a_named_temporary_file_is_removed_on_fatal_signals) {
    char *dir = make_temp_dir();
    die_with_a_named_temp(dir, SIGPIPE);
    die_with_a_named_temp(dir, SIGHUP);
    die_with_a_named_temp(dir, SIGSEGV);
    rm_tree(dir);
    free(dir);
}

AC_TEST(outfile, discarding_leaves_nothing) {
    char *dir = make_temp_dir();
    char *path = path_in(dir, "out.xml");
    ac__buf err = {0};
    ac__outfile *f = ac__outfile_open("--junit", path, AC_OUTFILE_WHOLE, &err);
    AC_ASSERT_NOT_NULL(f);
    ac__outfile_discard(f);
    f = ac__outfile_open("--junit", path, AC_OUTFILE_WHOLE | AC_OUTFILE_NAMED_TEMP, &err);
    AC_ASSERT_NOT_NULL(f);
    fputs("x", ac__outfile_stream(f));
    ac__outfile_discard(f);
    expect_entries(dir, "");
    free(path);
    rm_tree(dir);
    free(dir);
}

AC_TEST(outfile, a_proc_fd_link_is_written_through) {
    /* --junit /dev/stdout with stdout redirected to a file: appended to that file, never replacing it */
    char *dir = make_temp_dir();
    char *path = path_in(dir, "stdout.txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    AC_ASSERT_GE(fd, 0);
    AC_ASSERT_EQ(write(fd, "human\n", 6), 6);
    struct stat before, after;
    AC_ASSERT_EQ(fstat(fd, &before), 0);
    char fd_link[64];
    snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", fd);
    ac__buf err = {0};
    ac__outfile *f = ac__outfile_open("--junit", fd_link, AC_OUTFILE_WHOLE, &err);
    AC_ASSERT_NOT_NULL(f);
    fputs("<xml/>\n", ac__outfile_stream(f));
    AC_EXPECT_EQ(ac__outfile_close(f), 0);
    AC_ASSERT_EQ(stat(path, &after), 0);
    AC_EXPECT_EQ(after.st_ino, before.st_ino);
    expect_text(path, "human\n<xml/>\n");
    expect_entries(dir, "stdout.txt");
    close(fd);
    free(path);
    rm_tree(dir);
    free(dir);
}

AC_TEST(outfile, a_streamed_report_writes_through_a_symlink) {
    char *dir = make_temp_dir();
    char *real = path_in(dir, "real.tap"), *link = path_in(dir, "link");
    FILE *old = fopen(real, "w");
    fputs("old and longer", old);
    fclose(old);
    AC_ASSERT_EQ(symlink("real.tap", link), 0);
    ac__buf err = {0};
    ac__outfile *f = ac__outfile_open("--tap", link, 0, &err);
    AC_ASSERT_NOT_NULL(f);
    fputs("TAP version 14\n", ac__outfile_stream(f));
    AC_EXPECT_EQ(ac__outfile_close(f), 0);
    struct stat st;
    AC_ASSERT_EQ(lstat(link, &st), 0);
    AC_EXPECT_TRUE(S_ISLNK(st.st_mode));
    expect_text(real, "TAP version 14\n");
    free(real);
    free(link);
    rm_tree(dir);
    free(dir);
}
