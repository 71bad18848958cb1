/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Measures skfastpathd's footprint (run through bench/footprint, which isolates it):
 *   start-to-READY (our own NOTIFY_SOCKET), RSS after start, RSS with 1,000 ports and 64
 *   interfaces, and the AddPort/RemovePort round trip over the bus (state file fsync included).
 * usage: footprint-probe [--starts N] [--netns PATH] [--state-file PATH] -- DAEMON [ARGS...] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bus-names.h"

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* METHOD(port) on the daemon; *ret_ms is how long the call took. Returns 0 or -errno (printed). */
static int call_port(sd_bus *bus, const char *method, uint16_t port, double *ret_ms)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        double t = now_ms();
        int r;

        r = sd_bus_call_method(bus, SKFP_BUS_SERVICE, SKFP_BUS_PATH, SKFP_BUS_INTERFACE, method, &e, NULL,
                               "q", port);
        *ret_ms = now_ms() - t;
        if (r < 0)
                fprintf(stderr, "%s: %s\n", method, e.message);
        sd_bus_error_free(&e);
        return r;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
        qsort(v, n, sizeof(double), cmp_double);
        return v[(size_t) ((double) (n - 1) * p + 0.5)];
}

static long rss_kib(pid_t pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* Starts the daemon and returns its pid once READY=1 arrived; *ret_ms is the time it took. */
static pid_t start(int notify_fd, const char *netns, char **argv, double *ret_ms)
{
        double t0 = now_ms();
        pid_t pid = fork();
        char buf[4096];

        if (pid < 0)
                return -1;
        if (pid == 0) {
                if (netns) {
                        int fd = open(netns, O_RDONLY | O_CLOEXEC);

                        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
                                perror("setns");
                                _exit(127);
                        }
                }
                execv(argv[0], argv);
                perror("execv");
                _exit(127);
        }
        for (;;) {
                struct pollfd p = { .fd = notify_fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 10000) <= 0) {
                        fprintf(stderr, "no READY=1 within 10 s\n");
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        return -1;
                }
                n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        continue;
                buf[n] = 0;
                if (strstr(buf, "READY=1")) {
                        *ret_ms = now_ms() - t0;
                        return pid;
                }
        }
}

static int stop(pid_t pid)
{
        int status;

        kill(pid, SIGTERM);
        if (waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void verdict(const char *what, double value, const char *unit, double target)
{
        printf("%-36s %8.2f %-4s target <= %g %s: %s\n", what, value, unit, target, unit,
                value <= target ? "ok" : "OVER");
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                { "starts", required_argument, NULL, 's' },
                { "netns", required_argument, NULL, 'n' },
                { "state-file", required_argument, NULL, 'f' },
                {}
        };
        const char *netns = NULL, *state_file = NULL;
        int starts = 5, c, fd, r, nports = 1000, nifaces = 64;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        double *ready, *add, *rem, ms = 0;
        long rss_start = 0, rss_loaded;
        sd_bus *bus = NULL;
        pid_t pid = -1;

        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        starts = atoi(optarg);
                        break;
                case 'n':
                        netns = optarg;
                        break;
                case 'f':
                        state_file = optarg;
                        break;
                default:
                        return 2;
                }
        if (optind >= argc || starts < 1) {
                fprintf(stderr, "usage: %s [--starts N] [--netns PATH] [--state-file PATH] -- DAEMON [ARGS...]\n",
                        argv[0]);
                return 2;
        }

        /* our own NOTIFY_SOCKET, as systemd would give for Type=notify */
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/skfp-footprint-notify-%d", (int) getpid());
        unlink(sa.sun_path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("notify socket");
                return 1;
        }
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);

        ready = calloc((size_t) starts, sizeof(double));
        add = calloc((size_t) nports, sizeof(double));
        rem = calloc((size_t) nports, sizeof(double));
        for (int i = 0; i < starts; i++) {
                if (state_file)
                        unlink(state_file);  /* every start from the config file alone */
                pid = start(fd, netns, argv + optind, &ms);
                if (pid < 0)
                        goto fail;
                ready[i] = ms;
                rss_start += rss_kib(pid);
                if (i + 1 < starts && stop(pid) != 0) {
                        fprintf(stderr, "the daemon did not exit cleanly\n");
                        goto fail;
                }
        }
        rss_start /= starts;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus: %s\n", strerror(-r));
                goto fail;
        }
        for (int i = 0; i < nports; i++)
                if (call_port(bus, "AddPort", (uint16_t) (20000 + i), &add[i]) < 0)
                        goto fail;
        for (int i = 0; i < nifaces; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                char name[16];

                snprintf(name, sizeof(name), "skfpb%d", i);
                r = sd_bus_call_method(bus, SKFP_BUS_SERVICE, SKFP_BUS_PATH, SKFP_BUS_INTERFACE,
                        "AddInterface", &e, NULL, "s", name);
                if (r < 0) {
                        fprintf(stderr, "AddInterface: %s\n", e.message);
                        goto fail;
                }
        }
        rss_loaded = rss_kib(pid);
        for (int i = 0; i < nports; i++)
                if (call_port(bus, "RemovePort", (uint16_t) (20000 + i), &rem[i]) < 0)
                        goto fail;
        sd_bus_flush_close_unref(bus);
        if (stop(pid) != 0)
                fprintf(stderr, "warning: the daemon did not exit cleanly\n");
        unlink(sa.sun_path);

        printf("start-to-READY over %d starts: min %.2f ms, max %.2f ms\n", starts,
                percentile(ready, (size_t) starts, 0), percentile(ready, (size_t) starts, 1));
        verdict("start-to-READY (median)", percentile(ready, (size_t) starts, 0.5), "ms", 150);
        verdict("RSS after start", (double) rss_start / 1024, "MiB", 8);
        verdict("RSS with 1000 ports, 64 interfaces", (double) rss_loaded / 1024, "MiB", 8);
        verdict("AddPort round trip (median)", percentile(add, (size_t) nports, 0.5), "ms", 2);
        printf("AddPort round trip p90 %.2f ms, max %.2f ms\n", percentile(add, (size_t) nports, 0.9),
                percentile(add, (size_t) nports, 1));
        verdict("RemovePort round trip (median)", percentile(rem, (size_t) nports, 0.5), "ms", 2);
        return 0;

fail:
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        unlink(sa.sun_path);
        return 1;
}
