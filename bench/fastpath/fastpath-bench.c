/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Benchmark of the sockmap fastpath (not a test): loopback TCP with the fastpath off, on, and in
 * pass-large-writes mode, against AF_UNIX stream sockets as the floor. Ping-pong transactions/s
 * with p50/p99 latency, and bulk throughput; modes interleaved in every repetition; client and
 * server threads pinned to different CPUs (plus one unpinned repetition). It runs in a cgroup
 * and a pin directory of its own, which it removes on every exit path.
 *
 *   fastpath-bench [--quick] [--reps N] [--seconds S] [--cpus A,B] [--plw BYTES] [--json PATH] */
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "bpf-util.h"
#include "cgroup-util.h"
#include "datapath.h"
#include "util.h"

#define KiB 1024u

typedef enum Mode {
        MODE_TCP,       /* fastpath switched off: sockets never enter the sockhash */
        MODE_FASTPATH,
        MODE_PLW,       /* fastpath with PassLargeWrites= */
        MODE_UNIX,      /* AF_UNIX socketpair: the floor */
        _MODE_MAX,
} Mode;

static const char *const mode_names[_MODE_MAX] = { "tcp", "fastpath", "plw", "unix" };

typedef struct Workload {
        const char *name;
        bool pingpong;
        size_t size;    /* transaction size or write size */
} Workload;

static const Workload workloads[] = {
        { "pingpong-1B", true, 1 },
        { "pingpong-1K", true, 1 * KiB },
        { "pingpong-16K", true, 16 * KiB },
        { "bulk-1K", false, 1 * KiB },
        { "bulk-16K", false, 16 * KiB },
        { "bulk-64K", false, 64 * KiB },
        { "bulk-256K", false, 256 * KiB },
};
#define N_WORKLOADS ELEMENTSOF(workloads)
#define MAX_REPS 50

typedef struct Sample {
        double value;           /* transactions/s or MB/s */
        double p50_us, p99_us;  /* ping-pong only */
        double fp_share;        /* share of the bytes that took the sockhash */
} Sample;

static struct {
        int reps;
        double seconds;
        int cpu_client, cpu_server;
        uint64_t plw;
        const char *json;
        bool unpinned;
} arg = {
        .reps = 5, .seconds = 0.5, .cpu_client = 0, .cpu_server = 1, .plw = 64 * KiB, .unpinned = true,
};

static Sample pinned[N_WORKLOADS][_MODE_MAX][MAX_REPS];
static Sample unpinned[N_WORKLOADS][_MODE_MAX];

static char cgroup_dir[1100], cgroup_orig[4200], pin_dir[256], loadavg[64];
static Datapath *dp;
static int listen_fd = -EBADF;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ---- I/O on blocking sockets, bounded: SO_RCVTIMEO/SO_SNDTIMEO and a deadline. A read on a
 * fastpath socket may return EAGAIN without data (skfastpathd(8), HAZARDS): retry until the deadline. ---- */

static double io_deadline;

static int write_full(int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n > 0) {
                ssize_t w = write(fd, p, n);

                if (w < 0) {
                        if ((errno == EAGAIN || errno == EINTR) && now_s() < io_deadline)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

/* 1: EOF before anything was read, 0: all n read, <0: error. */
static int read_full(int fd, void *buf, size_t n)
{
        char *p = buf;
        size_t got = 0;

        while (got < n) {
                ssize_t r = read(fd, p + got, n - got);

                if (r == 0)
                        return got == 0 ? 1 : -EPIPE;
                if (r < 0) {
                        if ((errno == EAGAIN || errno == EINTR) && now_s() < io_deadline)
                                continue;
                        return -errno;
                }
                got += (size_t) r;
        }
        return 0;
}

static void socket_tune(int fd)
{
        struct timeval tv = { .tv_sec = 2 };
        int one = 1;

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int pin_thread(pthread_t t, int cpu)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        if (cpu < 0) {
                for (int i = 0; i < CPU_SETSIZE; i++)
                        CPU_SET(i, &set);
        } else
                CPU_SET(cpu, &set);
        return -pthread_setaffinity_np(t, sizeof(set), &set);
}

/* ---- one cell: one workload, one mode, one fresh connection ---- */

typedef struct Server {
        int fd;
        const Workload *w;
        int cpu;
        int result;
} Server;

static void *server_loop(Server *s)
{
        size_t bufsize = s->w->pingpong ? s->w->size : 256 * KiB;
        _cleanup_free_ char *buf = malloc(bufsize);
        uint64_t total = 0;
        int r;

        if (!buf) {
                s->result = -ENOMEM;
                return NULL;
        }
        if (s->w->pingpong) {
                for (;;) {
                        r = read_full(s->fd, buf, s->w->size);
                        if (r == 1)
                                break;
                        if (r == 0)
                                r = write_full(s->fd, buf, s->w->size);
                        if (r < 0) {
                                s->result = r;
                                return NULL;
                        }
                }
        } else {
                for (;;) {
                        ssize_t n = read(s->fd, buf, bufsize);

                        if (n == 0)
                                break;
                        if (n < 0) {
                                if ((errno == EAGAIN || errno == EINTR) && now_s() < io_deadline)
                                        continue;
                                s->result = -errno;
                                return NULL;
                        }
                        total += (uint64_t) n;
                }
                s->result = write_full(s->fd, &total, sizeof(total));
                if (s->result < 0)
                        return NULL;
        }
        s->result = 0;
        return NULL;
}

static void *server_run(void *userdata)
{
        Server *s = userdata;

        (void) pin_thread(pthread_self(), s->cpu);
        return server_loop(s);
}

static int pair_new(Mode mode, int *ret_client, int *ret_server)
{
        struct sockaddr_in a = {};
        socklen_t len = sizeof(a);
        int fds[2], c, s;

        if (mode == MODE_UNIX) {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
                        return -errno;
                *ret_client = fds[0];
                *ret_server = fds[1];
                return 0;
        }
        if (getsockname(listen_fd, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0)
                return -errno;
        socket_tune(c);
        if (connect(c, (struct sockaddr *) &a, len) < 0) {
                safe_close(c);
                return -errno;
        }
        struct pollfd p = { .fd = listen_fd, .events = POLLIN };
        if (poll(&p, 1, 2000) <= 0) {
                safe_close(c);
                return -ETIMEDOUT;
        }
        s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (s < 0) {
                safe_close(c);
                return -errno;
        }
        socket_tune(s);
        *ret_client = c;
        *ret_server = s;
        return 0;
}

static int mode_apply(Mode mode)
{
        int r;

        r = datapath_set_fastpath(dp, mode == MODE_FASTPATH || mode == MODE_PLW);
        if (r >= 0)
                r = datapath_set_pass_large_writes(dp, mode == MODE_PLW ? arg.plw : 0);
        return r;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static int client_pingpong(int fd, const Workload *w, Sample *ret, uint64_t *ret_bytes)
{
        _cleanup_free_ char *buf = calloc(1, w->size), *rbuf = malloc(w->size);
        _cleanup_free_ uint64_t *lat = NULL;
        size_t n = 0, cap = 0, all = 0;
        double t0, warm_end, end;
        int r;

        if (!buf || !rbuf)
                return -ENOMEM;
        t0 = now_s();
        warm_end = t0 + arg.seconds * 0.1;
        end = warm_end + arg.seconds;
        for (;;) {
                uint64_t s = now_ns();
                double t;

                r = write_full(fd, buf, w->size);
                if (r >= 0)
                        r = read_full(fd, rbuf, w->size);
                if (r != 0)
                        return r < 0 ? r : -EPIPE;
                all++;
                t = now_s();
                if (t >= end)
                        break;
                if (t < warm_end)
                        continue;
                if (n == cap) {
                        uint64_t *l = reallocarray(lat, cap ? cap * 2 : 65536, sizeof(uint64_t));
                        if (!l)
                                return -ENOMEM;
                        lat = l;
                        cap = cap ? cap * 2 : 65536;
                }
                lat[n++] = now_ns() - s;
        }
        if (n == 0)
                return -EIO;
        qsort(lat, n, sizeof(uint64_t), cmp_u64);
        ret->value = (double) n / arg.seconds;
        ret->p50_us = (double) lat[n / 2] / 1000.0;
        ret->p99_us = (double) lat[(size_t) ((double) n * 0.99)] / 1000.0;
        *ret_bytes = 2 * all * w->size;
        return 0;
}

static int client_bulk(int fd, const Workload *w, Sample *ret, uint64_t *ret_bytes)
{
        _cleanup_free_ char *buf = calloc(1, w->size);
        uint64_t sent = 0, got = 0;
        double t0, end;
        int r;

        if (!buf)
                return -ENOMEM;
        t0 = now_s();
        end = t0 + arg.seconds;
        while (now_s() < end) {
                r = write_full(fd, buf, w->size);
                if (r < 0)
                        return r;
                sent += w->size;
        }
        if (shutdown(fd, SHUT_WR) < 0)
                return -errno;
        r = read_full(fd, &got, sizeof(got));
        if (r != 0)
                return r < 0 ? r : -EPIPE;
        if (got != sent) {
                fprintf(stderr, "bulk %s: sent %llu bytes, the server got %llu\n", w->name,
                        (unsigned long long) sent, (unsigned long long) got);
                return -EIO;
        }
        ret->value = (double) got / (now_s() - t0) / 1e6;
        *ret_bytes = sent;
        return 0;
}

static int cell_run(const Workload *w, Mode mode, bool pin, Sample *ret)
{
        DatapathStatistics a, b;
        Server srv = { .fd = -EBADF, .w = w, .cpu = pin ? arg.cpu_server : -1 };
        pthread_t thread;
        uint64_t bytes = 0;
        int c = -EBADF, r;

        r = mode_apply(mode);
        if (r < 0)
                return r;
        r = pair_new(mode, &c, &srv.fd);
        if (r < 0)
                return r;
        r = datapath_get_statistics(dp, &a);
        if (r < 0)
                goto out;

        io_deadline = now_s() + arg.seconds * 1.2 + 10;
        (void) pin_thread(pthread_self(), pin ? arg.cpu_client : -1);
        r = -pthread_create(&thread, NULL, server_run, &srv);
        if (r < 0)
                goto out;

        r = w->pingpong ? client_pingpong(c, w, ret, &bytes) : client_bulk(c, w, ret, &bytes);
        /* The server ends on EOF (ping-pong) or after its count (bulk). */
        (void) shutdown(c, SHUT_WR);
        pthread_join(thread, NULL);
        if (r >= 0 && srv.result < 0)
                r = srv.result;
        if (r >= 0)
                r = datapath_get_statistics(dp, &b);
        if (r >= 0)
                ret->fp_share = bytes ? (double) (b.redirected_bytes - a.redirected_bytes) / (double) bytes : 0;
out:
        safe_close(c);
        safe_close(srv.fd);
        if (r < 0)
                fprintf(stderr, "%s/%s failed: %s\n", w->name, mode_names[mode], strerror(-r));
        return r;
}

/* ---- statistics and output ---- */

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
        double s[MAX_REPS];

        memcpy(s, v, sizeof(double) * (size_t) n);
        qsort(s, (size_t) n, sizeof(double), cmp_double);
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

typedef struct Summary {
        double value, p50_us, p99_us, fp_share;
} Summary;

static Summary summarize(size_t wi, Mode m)
{
        double v[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS], fp[MAX_REPS];

        for (int i = 0; i < arg.reps; i++) {
                v[i] = pinned[wi][m][i].value;
                p50[i] = pinned[wi][m][i].p50_us;
                p99[i] = pinned[wi][m][i].p99_us;
                fp[i] = pinned[wi][m][i].fp_share;
        }
        return (Summary) { median(v, arg.reps), median(p50, arg.reps), median(p99, arg.reps),
                           median(fp, arg.reps) };
}

static void print_table(void)
{
        printf("\nMedians of %d repetitions, %.2f s per cell, client on CPU %d, server on CPU %d;\n"
               "pass-large-writes threshold %llu bytes; fp%% = share of bytes redirected;\n"
               "load average at start: %s\n\n",
               arg.reps, arg.seconds, arg.cpu_client, arg.cpu_server, (unsigned long long) arg.plw, loadavg);
        printf("%-13s %6s | %10s %10s %10s %10s | %6s %6s %6s | %s\n", "workload", "unit", "tcp", "fastpath",
               "plw", "unix", "fp/tcp", "plw/tcp", "unx/tcp", "fp% in fastpath,plw");
        for (size_t wi = 0; wi < N_WORKLOADS; wi++) {
                Summary s[_MODE_MAX];

                for (Mode m = 0; m < _MODE_MAX; m++)
                        s[m] = summarize(wi, m);
                printf("%-13s %6s | %10.0f %10.0f %10.0f %10.0f | %6.2f %6.2f %6.2f | %3.0f%% %3.0f%%\n",
                       workloads[wi].name, workloads[wi].pingpong ? "tx/s" : "MB/s", s[MODE_TCP].value,
                       s[MODE_FASTPATH].value, s[MODE_PLW].value, s[MODE_UNIX].value,
                       s[MODE_FASTPATH].value / s[MODE_TCP].value, s[MODE_PLW].value / s[MODE_TCP].value,
                       s[MODE_UNIX].value / s[MODE_TCP].value, s[MODE_FASTPATH].fp_share * 100,
                       s[MODE_PLW].fp_share * 100);
                if (workloads[wi].pingpong)
                        printf("%-13s %6s | %5.1f/%-4.0f %5.1f/%-4.0f %5.1f/%-4.0f %5.1f/%-4.0f |\n", "", "p50/99",
                               s[MODE_TCP].p50_us, s[MODE_TCP].p99_us, s[MODE_FASTPATH].p50_us,
                               s[MODE_FASTPATH].p99_us, s[MODE_PLW].p50_us, s[MODE_PLW].p99_us,
                               s[MODE_UNIX].p50_us, s[MODE_UNIX].p99_us);
        }
        if (!arg.unpinned)
                return;
        printf("\nOne unpinned repetition (the scheduler places both threads):\n");
        for (size_t wi = 0; wi < N_WORKLOADS; wi++) {
                const Sample *u = unpinned[wi];

                printf("%-13s %6s | %10.0f %10.0f %10.0f %10.0f | %6.2f %6.2f %6.2f |\n", workloads[wi].name,
                       workloads[wi].pingpong ? "tx/s" : "MB/s", u[MODE_TCP].value, u[MODE_FASTPATH].value,
                       u[MODE_PLW].value, u[MODE_UNIX].value, u[MODE_FASTPATH].value / u[MODE_TCP].value,
                       u[MODE_PLW].value / u[MODE_TCP].value, u[MODE_UNIX].value / u[MODE_TCP].value);
        }
}

static int write_json(const char *path, double elapsed)
{
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        struct utsname u;
        time_t t = time(NULL);
        char date[64];

        if (!f)
                return -errno;
        uname(&u);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        fprintf(f, "{\n  \"benchmark\": \"fastpath\",\n  \"date\": \"%s\",\n  \"kernel\": \"%s\",\n"
                   "  \"cpus_online\": %ld,\n  \"client_cpu\": %d,\n  \"server_cpu\": %d,\n"
                   "  \"repetitions\": %d,\n  \"seconds_per_cell\": %.3f,\n  \"pass_large_writes\": %llu,\n"
                   "  \"elapsed_seconds\": %.1f,\n  \"loadavg_at_start\": \"%s\",\n  \"workloads\": [\n",
                date, u.release, sysconf(_SC_NPROCESSORS_ONLN), arg.cpu_client, arg.cpu_server, arg.reps,
                arg.seconds, (unsigned long long) arg.plw, elapsed, loadavg);
        for (size_t wi = 0; wi < N_WORKLOADS; wi++) {
                fprintf(f, "    {\"name\": \"%s\", \"unit\": \"%s\", \"modes\": {", workloads[wi].name,
                        workloads[wi].pingpong ? "transactions_per_second" : "megabytes_per_second");
                for (Mode m = 0; m < _MODE_MAX; m++) {
                        Summary s = summarize(wi, m);

                        fprintf(f, "%s\n      \"%s\": {\"median\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
                                   "\"redirected_share\": %.3f, \"ratio_to_tcp\": %.3f, \"samples\": [",
                                m ? "," : "", mode_names[m], s.value, s.p50_us, s.p99_us, s.fp_share,
                                s.value / summarize(wi, MODE_TCP).value);
                        for (int i = 0; i < arg.reps; i++)
                                fprintf(f, "%s%.1f", i ? ", " : "", pinned[wi][m][i].value);
                        if (arg.unpinned)
                                fprintf(f, "], \"unpinned\": %.1f}", unpinned[wi][m].value);
                        else
                                fprintf(f, "], \"unpinned\": null}");
                }
                fprintf(f, "}}%s\n", wi + 1 < N_WORKLOADS ? "," : "");
        }
        fprintf(f, "  ]\n}\n");
        return fflush(f) == 0 ? 0 : -errno;
}

/* ---- environment: own cgroup, own pin directory, removed on every exit path ---- */

static void cleanup(void)
{
        if (dp) {
                datapath_unpin(dp);
                dp = datapath_free(dp);
        }
        safe_close(listen_fd);
        if (cgroup_orig[0])
                (void) cgroup_enter(cgroup_orig);
        if (cgroup_dir[0])
                (void) rmdir(cgroup_dir);
}

static void on_signal(int sig)
{
        exit(128 + sig);
}

static int environment_init(void)
{
        _cleanup_free_ char *root = NULL, *self = NULL;
        int r;

        r = cgroup2_root_find(&root);
        if (r == -ENOENT)
                return log_error_errno(r, "No cgroup2 mount.");
        if (r < 0)
                return log_error_errno(r, "Failed to read /proc/self/mountinfo: %m");
        r = cgroup_self_path(root, &self);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to read /proc/self/cgroup: %m");
        if (self)
                snprintf(cgroup_orig, sizeof(cgroup_orig), "%s", self);
        snprintf(cgroup_dir, sizeof(cgroup_dir), "%s/skfp-bench-%d", root, getpid());
        if (mkdir(cgroup_dir, 0755) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", cgroup_dir);
        if (cgroup_enter(cgroup_dir) < 0)
                return log_error_errno(errno, "Failed to enter %s: %m", cgroup_dir);
        snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/skfastpath/skfp-bench-%d", getpid());
        return 0;
}

static int datapath_init(void)
{
        _cleanup_(config_done) Config c;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        struct stat st;
        uint64_t id;
        int r;

        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            listen(listen_fd, 16) < 0 || getsockname(listen_fd, (struct sockaddr *) &a, &len) < 0)
                return log_error_errno(errno, "Failed to listen on 127.0.0.1: %m");

        config_init(&c);
        c.cgroup_path = strdup(cgroup_dir);
        c.pin_directory = strdup(pin_dir);
        if (!c.cgroup_path || !c.pin_directory)
                return log_oom();
        r = config_add_port(&c, ntohs(a.sin_port), PORT_MODE_FASTPATH);
        if (r < 0)
                return r;
        r = datapath_new(&dp, &c);
        if (r < 0)
                return r;
        /* The mechanism alone, both directions: the benchmark's cgroup is a declared receiver
         * (by default only the relay's sockets receive on the fastpath). A cgroup's id is its
         * directory's inode number. */
        if (stat(cgroup_dir, &st) < 0)
                return log_error_errno(errno, "Failed to stat %s: %m", cgroup_dir);
        id = (uint64_t) st.st_ino;
        return datapath_set_trusted_cgroups(dp, &id, 1);
}

/* The first three fields of /proc/loadavg: how busy the machine was. */
static void loadavg_read(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/loadavg", "re");
        double l1, l5, l15;

        if (f && fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
                snprintf(loadavg, sizeof(loadavg), "%.2f %.2f %.2f", l1, l5, l15);
}

static void help(void)
{
        printf("fastpath-bench [OPTIONS...]\n\n"
               "  --quick           3 repetitions of 0.1 s per cell (a check that it works)\n"
               "  --reps N          repetitions (default 5)\n"
               "  --seconds S       seconds per cell (default 0.5)\n"
               "  --cpus A,B        client and server CPUs (default 0,1)\n"
               "  --plw BYTES       pass-large-writes threshold of the plw mode (default 65536)\n"
               "  --no-unpinned     skip the unpinned repetition\n"
               "  --json PATH       also write the results as JSON\n");
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_QUICK = 0x100, ARG_REPS, ARG_SECONDS, ARG_CPUS, ARG_PLW, ARG_NO_UNPINNED, ARG_JSON };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "quick", no_argument, NULL, ARG_QUICK },
                { "reps", required_argument, NULL, ARG_REPS },
                { "seconds", required_argument, NULL, ARG_SECONDS },
                { "cpus", required_argument, NULL, ARG_CPUS },
                { "plw", required_argument, NULL, ARG_PLW },
                { "no-unpinned", no_argument, NULL, ARG_NO_UNPINNED },
                { "json", required_argument, NULL, ARG_JSON },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_QUICK:
                        arg.reps = 3;
                        arg.seconds = 0.1;
                        break;
                case ARG_REPS:
                        arg.reps = atoi(optarg);
                        if (arg.reps < 1 || arg.reps > MAX_REPS)
                                return log_error_errno(EINVAL, "--reps must be 1..%d", MAX_REPS);
                        break;
                case ARG_SECONDS:
                        arg.seconds = atof(optarg);
                        if (!(arg.seconds >= 0.01 && arg.seconds <= 10))
                                return log_error_errno(EINVAL, "--seconds must be 0.01..10");
                        break;
                case ARG_CPUS:
                        if (sscanf(optarg, "%d,%d", &arg.cpu_client, &arg.cpu_server) != 2 ||
                            arg.cpu_client < 0 || arg.cpu_server < 0 || arg.cpu_client >= CPU_SETSIZE ||
                            arg.cpu_server >= CPU_SETSIZE)
                                return log_error_errno(EINVAL, "--cpus wants two CPU numbers: A,B");
                        break;
                case ARG_PLW:
                        if (parse_size(optarg, &arg.plw) < 0 || arg.plw == 0)
                                return log_error_errno(EINVAL, "--plw wants a size in bytes");
                        break;
                case ARG_NO_UNPINNED:
                        arg.unpinned = false;
                        break;
                case ARG_JSON:
                        arg.json = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

int main(int argc, char *argv[])
{
        double t0 = now_s();
        int r;

        log_set_prefix(false);
        libbpf_set_print(bpf_libbpf_print);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (geteuid() != 0) {
                fprintf(stderr, "fastpath-bench loads BPF programs: run it as root.\n");
                return EXIT_FAILURE;
        }

        loadavg_read();
        {
                cpu_set_t allowed;

                if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0 || !CPU_ISSET(arg.cpu_client, &allowed) ||
                    !CPU_ISSET(arg.cpu_server, &allowed) || arg.cpu_client == arg.cpu_server) {
                        fprintf(stderr, "CPUs %d and %d must be two different CPUs this process may use "
                                "(--cpus A,B).\n", arg.cpu_client, arg.cpu_server);
                        return EXIT_FAILURE;
                }
        }
        atexit(cleanup);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        if (environment_init() < 0 || datapath_init() < 0)
                return EXIT_FAILURE;

        printf("fastpath-bench: %zu workloads x %d modes x %d repetitions, %.2f s per cell%s\n", N_WORKLOADS,
               _MODE_MAX, arg.reps, arg.seconds, arg.unpinned ? ", plus one unpinned repetition" : "");
        for (int rep = 0; rep < arg.reps + (arg.unpinned ? 1 : 0); rep++) {
                bool pin = rep < arg.reps;

                for (size_t wi = 0; wi < N_WORKLOADS; wi++)
                        /* Interleaved, and the order rotates so that no mode always runs first. */
                        for (int k = 0; k < _MODE_MAX; k++) {
                                Mode m = (Mode) ((k + rep + (int) wi) % _MODE_MAX);
                                Sample *s = pin ? &pinned[wi][m][rep] : &unpinned[wi][m];

                                if (cell_run(&workloads[wi], m, pin, s) < 0)
                                        return EXIT_FAILURE;
                        }
                fprintf(stderr, "  repetition %d of %d done (%.0f s)\n", rep + 1,
                        arg.reps + (arg.unpinned ? 1 : 0), now_s() - t0);
        }

        print_table();
        if (arg.json) {
                r = write_json(arg.json, now_s() - t0);
                if (r < 0) {
                        fprintf(stderr, "Failed to write %s: %s\n", arg.json, strerror(-r));
                        return EXIT_FAILURE;
                }
                printf("\nJSON: %s\n", arg.json);
        }
        return EXIT_SUCCESS;
}
