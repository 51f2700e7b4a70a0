/* meta_report_files.c — where reports go: device nodes, fifos and symlinks given as report files are
 * written through and survive; reports that cannot be written say so; a non-blocking stdout loses
 * nothing; conflicting or impossible report options are usage errors; no temporary file is left by a
 * runner that dies (SIGPIPE, SIGKILL); a long --repeat is streamed. Device nodes are made in temporary
 * directories, never /dev's. */
#include "meta.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

/* Starts argv with stdout on `out_fd` and stderr into `err_path`; returns its pid. */
static pid_t spawn(const char *const *argv, int out_fd, const char *err_path, const char *const *env) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out_fd, 1);
        dup2(err, 2);
        for (int fd = 3; fd < 1024; fd++) /* the pipe's other end, above all */
            close(fd);
        unsetenv("HARNESS_ACTIVE");
        unsetenv("GITHUB_ACTIONS");
        unsetenv("XML_OUTPUT_FILE");
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    return pid;
}

/* Waits for pid: its exit status, or 128 + the signal that ended it. */
static int reap(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the zoo's passing test with `args` (stdout to /dev/null, stderr kept); its status and stderr. */
static int run_zoo(const char *dir, const char *const *args, const char *const *env, char **err) {
    const char *argv[16] = {FIXTURE_ZOO, "--filter=zoo.passes"};
    size_t n = 2;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *err_path = path_in(dir, "..stderr");
    int devnull = open("/dev/null", O_WRONLY);
    int status = reap(spawn(argv, devnull, err_path, env));
    close(devnull);
    *err = read_file(err_path);
    unlink(err_path);
    free(err_path);
    return status;
}

AC_TEST(meta_report_files, junit_writes_through_a_device_node) {
    if (geteuid() != 0)
        AC_SKIP("making a device node needs root");
    char *dir = make_temp_dir();
    char *node = path_in(dir, "null");
    AC_ASSERT_EQ(mknod(node, S_IFCHR | 0666, makedev(1, 3)), 0);
    const char *args[] = {"--junit", node, NULL};
    char *err;
    AC_EXPECT_EQ(run_zoo(dir, args, NULL, &err), 0);
    AC_EXPECT_STR_EQ(err, "");
    struct stat st;
    AC_ASSERT_EQ(lstat(node, &st), 0);
    AC_EXPECT_TRUE(S_ISCHR(st.st_mode)); /* still the device, not a regular file renamed over it */
    AC_EXPECT_EQ(st.st_rdev, makedev(1, 3));
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "null"); /* and nothing left beside it */
    free(names);
    free(err);
    free(node);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_report_files, junit_writes_through_a_symlink_to_a_fifo) {
    char *dir = make_temp_dir();
    char *fifo = path_in(dir, "fifo"), *link = path_in(dir, "link");
    AC_ASSERT_EQ(mkfifo(fifo, 0644), 0);
    AC_ASSERT_EQ(symlink("fifo", link), 0); /* like /dev/stdout: a symlink to something not a file */
    int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    AC_ASSERT_GE(reader, 0);
    const char *args[] = {"--junit", link, NULL};
    char *err;
    AC_EXPECT_EQ(run_zoo(dir, args, NULL, &err), 0);
    AC_EXPECT_STR_EQ(err, "");
    struct stat st;
    AC_ASSERT_EQ(lstat(link, &st), 0);
    AC_EXPECT_TRUE(S_ISLNK(st.st_mode));
    AC_ASSERT_EQ(lstat(fifo, &st), 0);
    AC_EXPECT_TRUE(S_ISFIFO(st.st_mode));
    char buf[65536];
    ssize_t n = read(reader, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    AC_EXPECT_STR_CONTAINS(buf, "<testcase classname=\"zoo\" name=\"passes\""); /* the report went through */
    AC_EXPECT_STR_CONTAINS(buf, "</testsuites>\n");
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "fifo link");
    free(names);
    close(reader);
    free(err);
    free(fifo);
    free(link);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_report_files, junit_through_a_symlink_replaces_its_target) {
    char *dir = make_temp_dir();
    char *sub = path_in(dir, "sub"), *real = path_in(dir, "real.xml");
    AC_ASSERT_EQ(mkdir(sub, 0755), 0);
    FILE *f = fopen(real, "w");
    AC_ASSERT_NOT_NULL(f);
    fputs("old", f);
    fclose(f);
    char *link = path_in(sub, "link"), *dangling = path_in(sub, "dangling");
    AC_ASSERT_EQ(symlink("../real.xml", link), 0); /* relative to the link's own directory */
    AC_ASSERT_EQ(symlink("../new.xml", dangling), 0);
    const char *args[] = {"--junit", link, NULL};
    char *err;
    AC_EXPECT_EQ(run_zoo(dir, args, NULL, &err), 0);
    AC_EXPECT_STR_EQ(err, "");
    free(err);
    struct stat st;
    AC_ASSERT_EQ(lstat(link, &st), 0);
    AC_EXPECT_TRUE(S_ISLNK(st.st_mode));
    char *text = read_file(real);
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_CONTAINS(text, "<testcase classname=\"zoo\" name=\"passes\"");
    free(text);
    /* a dangling symlink: the report is created where it points */
    const char *args2[] = {"--junit", dangling, NULL};
    AC_EXPECT_EQ(run_zoo(dir, args2, NULL, &err), 0);
    AC_EXPECT_STR_EQ(err, "");
    free(err);
    AC_ASSERT_EQ(lstat(dangling, &st), 0);
    AC_EXPECT_TRUE(S_ISLNK(st.st_mode));
    char *created = path_in(dir, "new.xml");
    text = read_file(created);
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_CONTAINS(text, "</testsuites>\n");
    free(text);
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "new.xml real.xml sub");
    free(names);
    names = dir_entries(sub);
    AC_EXPECT_STR_EQ(names, "dangling link");
    free(names);
    free(created);
    free(link);
    free(dangling);
    free(real);
    free(sub);
    rm_tree(dir);
    free(dir);
}

/* A report into a full device: exit status 1 and exactly one line naming the report and the error. */
static void expect_full(const char *dir, const char *option, const char *node, bool attached) {
    char opt[600];
    const char *args[3] = {option, node, NULL};
    if (attached) {
        snprintf(opt, sizeof opt, "%s=%s", option, node);
        args[0] = opt;
        args[1] = NULL;
    }
    char *err;
    AC_EXPECT_EQ(run_zoo(dir, args, NULL, &err), 1);
    char want[700];
    snprintf(want, sizeof want, "asyncheck: %s: could not write '%s': No space left on device\n", option,
             node);
    AC_EXPECT_STR_EQ(err, want);
    free(err);
}

AC_TEST(meta_report_files, a_report_that_cannot_be_written_says_so) {
    if (geteuid() != 0)
        AC_SKIP("making a device node needs root");
    char *dir = make_temp_dir();
    char *node = path_in(dir, "full");
    AC_ASSERT_EQ(mknod(node, S_IFCHR | 0666, makedev(1, 7)), 0); /* like /dev/full */
    expect_full(dir, "--tap", node, true);
    expect_full(dir, "--json", node, false);
    expect_full(dir, "--junit", node, false);
    struct stat st;
    AC_ASSERT_EQ(lstat(node, &st), 0);
    AC_EXPECT_TRUE(S_ISCHR(st.st_mode));
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "full");
    free(names);
    free(node);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_report_files, a_full_stdout_says_so) {
    char *dir = make_temp_dir();
    char *err_path = path_in(dir, "stderr");
    int full = open("/dev/full", O_WRONLY);
    AC_ASSERT_GE(full, 0);
    const char *tap[] = {FIXTURE_ZOO, "--filter=zoo.passes", "--tap", NULL};
    AC_EXPECT_EQ(reap(spawn(tap, full, err_path, NULL)), 1);
    char *err = read_file(err_path);
    AC_EXPECT_STR_EQ(err, "asyncheck: --tap: could not write to stdout: No space left on device\n");
    free(err);
    const char *human[] = {FIXTURE_ZOO, "--filter=zoo.passes", NULL};
    AC_EXPECT_EQ(reap(spawn(human, full, err_path, NULL)), 1);
    err = read_file(err_path);
    AC_EXPECT_STR_EQ(err, "asyncheck: the report: could not write to stdout: No space left on device\n");
    free(err);
    close(full);
    free(err_path);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_report_files, a_non_blocking_stdout_with_a_slow_reader_loses_nothing, .timeout = 60) {
    char *dir = make_temp_dir();
    char *err_path = path_in(dir, "stderr");
    int p[2];
    AC_ASSERT_EQ(pipe(p), 0);
    AC_ASSERT_EQ(fcntl(p[1], F_SETFL, O_NONBLOCK), 0); /* shared with the runner's stdout */
    const char *argv[] = {FIXTURE_MANY, "--no-fork", "--tap", "--filter=many.test/1*", NULL};
    pid_t pid = spawn(argv, p[1], err_path, NULL);
    close(p[1]);
    usleep(300 * 1000); /* let the pipe fill while nobody reads */
    ac__buf out = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(p[0], chunk, sizeof chunk)) > 0) {
        ac__buf_append(&out, chunk, (size_t)n);
        usleep(100); /* a slow reader */
    }
    close(p[0]);
    AC_EXPECT_EQ(reap(pid), 0);
    tap_doc doc;
    ac__buf why = {0};
    AC_EXPECT_TRUE(tap_parse(ac__buf_str(&out), &doc, &why));
    AC_EXPECT_STR_EQ(ac__buf_str(&why), "");
    AC_EXPECT_EQ(doc.n, 11111u); /* many.test/1, 10-19, 100-199, ... 10000-19999 */
    char *err = read_file(err_path);
    AC_EXPECT_STR_EQ(err, "");
    free(err);
    tap_free(&doc);
    ac__buf_free(&why);
    ac__buf_free(&out);
    free(err_path);
    rm_tree(dir);
    free(dir);
}

static void expect_usage(const char *dir, const char *const *args, const char *const *env, const char *line) {
    char *err;
    AC_EXPECT_EQ(run_zoo(dir, args, env, &err), 2);
    AC_EXPECT_STR_CONTAINS(err, line);
    AC_EXPECT_STR_CONTAINS(err, "--help' for usage.");
    free(err);
}

AC_TEST(meta_report_files, impossible_report_options_are_usage_errors) {
    char *dir = make_temp_dir();
    const char *both[] = {"--tap", "--json", "-", NULL};
    expect_usage(dir, both, NULL, ": --tap and --json - both write to stdout (give one of them a file)\n");
    const char *json_only[] = {"--json=-", NULL};
    const char *harness[] = {"HARNESS_ACTIVE=1", NULL};
    expect_usage(
        dir, json_only, harness,
        ": --json - and TAP (HARNESS_ACTIVE is set) both write to stdout (give one of them a file)\n");
    const char *junit_dir[] = {"--junit", dir, NULL};
    char want[700];
    snprintf(want, sizeof want, ": --junit: cannot write '%s': Is a directory\n", dir);
    expect_usage(dir, junit_dir, NULL, want);
    const char *none[] = {NULL};
    const char *xml_env[] = {"XML_OUTPUT_FILE=/nonexistent-dir/x.xml", NULL};
    expect_usage(dir, none, xml_env,
                 ": XML_OUTPUT_FILE: cannot write '/nonexistent-dir/x.xml': No such file or directory\n");
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, ""); /* nothing was run or left */
    free(names);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_report_files, a_junit_name_of_the_longest_length_works) {
    char *dir = make_temp_dir();
    char name[256];
    memset(name, 'j', 251);
    strcpy(name + 251, ".xml"); /* 255 bytes: NAME_MAX */
    char *path = path_in(dir, name);
    const char *args[] = {"--junit", path, NULL};
    char *err;
    AC_EXPECT_EQ(run_zoo(dir, args, NULL, &err), 0);
    AC_EXPECT_STR_EQ(err, "");
    char *text = read_file(path);
    AC_ASSERT_NOT_NULL(text);
    AC_EXPECT_STR_CONTAINS(text, "</testsuites>\n");
    free(text);
    free(err);
    free(path);
    rm_tree(dir);
    free(dir);
}

/* A runner writing TAP into a pipe and JUnit beside it is killed by `sig` once its run has started:
 * SIGPIPE by closing the pipe's reading end (`| head -c 1`), any other by kill(). Nothing is left in the
 * report's directory. */
static void killed_runner_leaves_nothing(int sig) {
    char *dir = make_temp_dir();
    char *junit = path_in(dir, "out.xml"), *err_path = path_in(dir, "..stderr");
    int p[2];
    AC_ASSERT_EQ(pipe(p), 0);
    const char *argv[] = {FIXTURE_MANY, "--no-fork", "--tap", "--junit", junit, NULL};
    pid_t pid = spawn(argv, p[1], err_path, NULL);
    close(p[1]);
    char c;
    AC_ASSERT_EQ(read(p[0], &c, 1), 1); /* the run has started; it blocks once the pipe is full */
    if (sig == SIGPIPE)
        close(p[0]);
    else
        kill(pid, sig);
    AC_EXPECT_EQ(reap(pid), 128 + sig);
    if (sig != SIGPIPE)
        close(p[0]);
    unlink(err_path);
    char *names = dir_entries(dir);
    AC_EXPECT_STR_EQ(names, "");
    free(names);
    free(junit);
    free(err_path);
    rm_tree(dir);
    free(dir);
}

AC_TEST(meta_report_files, a_runner_killed_by_sigpipe_leaves_no_temporary_file) {
    killed_runner_leaves_nothing(SIGPIPE);
}

AC_TEST(meta_report_files, a_runner_killed_by_sigkill_leaves_no_temporary_file) {
    killed_runner_leaves_nothing(SIGKILL);
}

AC_TEST(meta_report_files, a_million_repeats_are_streamed_not_allocated_up_front, .timeout = 60) {
    /* 1,000,000 results held at once would be about 200 MB; the runner gets 64 MB of data */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    AC_SKIP("a sanitizer reserves shadow memory beyond any data limit (the normal build runs this)");
#endif
    char *dir = make_temp_dir();
    char *err_path = path_in(dir, "stderr");
    int p[2];
    AC_ASSERT_EQ(pipe(p), 0);
    const char *argv[] = {FIXTURE_ZOO, "--filter=zoo.passes", "--repeat", "1000000", "--tap", "-j2", NULL};
    struct rlimit old, data = {64 << 20, 64 << 20};
    AC_ASSERT_EQ(getrlimit(RLIMIT_DATA, &old), 0);
    AC_ASSERT_EQ(setrlimit(RLIMIT_DATA, &data), 0); /* inherited by the runner */
    pid_t pid = spawn(argv, p[1], err_path, NULL);
    setrlimit(RLIMIT_DATA, &old);
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    char line[256] = "";
    size_t points = 0;
    while (points < 3000 && fgets(line, sizeof line, in))
        points += strncmp(line, "ok ", 3) == 0;
    AC_EXPECT_EQ(points, 3000u); /* running, not out of memory */
    AC_EXPECT_STR_EQ(line, "ok 3000 - zoo.passes [3000/1000000]\n");
    kill(pid, SIGKILL);
    reap(pid);
    fclose(in);
    char *err = read_file(err_path);
    AC_EXPECT_STR_EQ(err, "");
    free(err);
    free(err_path);
    rm_tree(dir);
    free(dir);
}
