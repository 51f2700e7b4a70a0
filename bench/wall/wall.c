/* wall.c — bench_wall COMMAND [ARGS...]: runs COMMAND with its stdout on /dev/null (stderr is left
 * alone), and prints the wall time it took in nanoseconds, measured on CLOCK_MONOTONIC from just before
 * fork to just after waitpid. Exits with COMMAND's exit status (128 + signal if it was killed; 127 if
 * it could not be started). Used by bench/run.sh so the timing is monotonic and costs no extra
 * process inside the measured interval beyond the one being measured. With BENCH_WALL_CPU=1 in its
 * environment it prints, after the wall time and a space, the CPU time (user + system, nanoseconds) the
 * command used: less sensitive than wall time to other processes on a busy machine. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    fflush(NULL);
    long long t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_wall: fork");
        return 127;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull < 0 || dup2(devnull, 1) < 0)
            _exit(127);
        execvp(argv[1], argv + 1);
        perror("bench_wall: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("bench_wall: waitpid");
            return 127;
        }
    }
    long long t1 = now_ns();
    const char *cpu = getenv("BENCH_WALL_CPU");
    if (cpu && cpu[0] == '1')
        printf("%lld %lld\n", t1 - t0,
               ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                   ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
    else
        printf("%lld\n", t1 - t0);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
