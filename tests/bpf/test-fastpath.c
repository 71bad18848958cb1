/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sockmap fastpath against the real kernel: daemon/datapath.c loads and attaches the programs
 * to a cgroup of this test's own, the test moves itself into it and drives real loopback (and
 * veth) sockets with non-blocking, poll-driven I/O and byte-exact checks. The model is the
 * kernel's selftests/bpf/prog_tests/sockmap_basic.c.
 *
 *   test-fastpath [TEST...]     runs the named tests (default: all); root only, else exit 77 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <bpf/bpf.h>

#include "bpf-util.h"
#include "cgroup-util.h"
#include "datapath.h"
#include "fs-util.h"
#include "util.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define IO_TIMEOUT_MS 20000
#define MAX_WRITE (4 * MiB)
#define PATTERN_PERIOD 1000003u  /* prime: a shifted or reordered stream never matches */

static char cgroup_root[1024], cgroup_dir[1100], cgroup_other[1100], cgroup_orig[4200];
static char pin_base[4096];
static unsigned pin_seq;
static uint8_t *pattern;
static int home_netns = -EBADF;

/* Every fd a test opens is closed by the runner after the test, whatever its outcome. */
static int tracked_fds[8192];
static size_t n_tracked_fds;

static int track(int fd)
{
        if (fd >= 0 && n_tracked_fds < ELEMENTSOF(tracked_fds))
                tracked_fds[n_tracked_fds++] = fd;
        return fd;
}

static void close_tracked(void)
{
        while (n_tracked_fds > 0)
                safe_close(tracked_fds[--n_tracked_fds]);
}

static void untrack_close(int fd)
{
        for (size_t i = 0; i < n_tracked_fds; i++)
                if (tracked_fds[i] == fd) {
                        tracked_fds[i] = tracked_fds[--n_tracked_fds];
                        break;
                }
        safe_close(fd);
}

/* A failed check returns -1 from the test (tests.h); CHECK* are this file's names for the checks. */
#define TEST_FAILED() return -1
#include "tests.h"
#define CHECK(expr) ASSERT(expr)
#define CHECK_EQ_U64(a, b) ASSERT_EQ_U64(a, b)
#define CHECK_OK(expr) ASSERT_OK(expr)

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ---- the datapath under test ---- */

struct setup {
        Config config;
        Datapath *dp;
        char pin_dir[4200];
        bool untrusted;         /* the shipped default: the test's cgroup is not a declared receiver */
};

static void setup_config(struct setup *s)
{
        config_init(&s->config);
        snprintf(s->pin_dir, sizeof(s->pin_dir), "%s/t%u", pin_base, ++pin_seq);
        s->config.pin_directory = strdup(s->pin_dir);
        s->config.cgroup_path = strdup(cgroup_dir);
        s->config.log_level = LOG_LEVEL_WARNING;
}

/* The test's sockets as declared receivers: its cgroup is trusted, so that both ends of a pair
 * may receive redirected data (as every peer could before receivers were declared). */
static int trust_test_cgroup(struct setup *s, bool trusted)
{
        uint64_t id;
        int r;

        r = datapath_cgroup_id(cgroup_dir + strlen(cgroup_root), &id);
        if (r < 0)
                return r;
        return datapath_set_trusted_cgroups(s->dp, &id, trusted ? 1 : 0);
}

static int setup_start(struct setup *s)
{
        int r;

        r = datapath_new(&s->dp, &s->config);
        if (r < 0 || s->untrusted)
                return r;
        return trust_test_cgroup(s, true);
}

static void setup_done(struct setup *s)
{
        if (s->dp) {
                datapath_unpin(s->dp);
                s->dp = datapath_free(s->dp);
        }
        config_done(&s->config);
}

static int stats(struct setup *s, DatapathStatistics *ret)
{
        return datapath_get_statistics(s->dp, ret);
}

static bool pin_dir_empty_or_gone(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        bool empty = true;

        if (!d)
                return errno == ENOENT;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        empty = false;
        closedir(d);
        return empty;
}

static size_t pin_dir_count(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* ---- sockets ---- */

typedef struct Addr {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        };
        socklen_t len;
} Addr;

static Addr addr_make(const char *ip, uint16_t port)
{
        Addr a = {};

        if (strchr(ip, ':')) {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons(port);
                if (inet_pton(AF_INET6, ip, &a.in6.sin6_addr) != 1)
                        abort();
                a.len = sizeof(a.in6);
        } else {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons(port);
                if (inet_pton(AF_INET, ip, &a.in.sin_addr) != 1)
                        abort();
                a.len = sizeof(a.in);
        }
        return a;
}

static uint16_t addr_port(const Addr *a)
{
        return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

static uint16_t local_port(int fd)
{
        Addr a = { .len = sizeof(a) };

        if (getsockname(fd, &a.sa, &a.len) < 0)
                return 0;
        return addr_port(&a);
}

/* A non-blocking listener; port 0 picks a free one. v6only < 0 leaves the default. */
static int listen_on(const char *ip, uint16_t port, int v6only)
{
        Addr a = addr_make(ip, port);
        int one = 1, fd;

        fd = track(socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
                return -errno;
        if (bind(fd, &a.sa, a.len) < 0 || listen(fd, 4096) < 0)
                return -errno;
        return fd;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, timeout_ms);

        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

/* Starts a non-blocking connect; bind_ip/bind_port optionally fix the client's own address. */
static int connect_start(const char *ip, uint16_t port, const char *bind_ip, uint16_t bind_port, uint32_t mark)
{
        Addr a = addr_make(ip, port);
        int one = 1, fd;

        fd = track(socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
                return -errno;
        if (bind_ip) {
                Addr b = addr_make(bind_ip, bind_port);

                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, &b.sa, b.len) < 0)
                        return -errno;
        }
        if (connect(fd, &a.sa, a.len) < 0 && errno != EINPROGRESS)
                return -errno;
        return fd;
}

static int connect_finish(int fd)
{
        int err = 0, r;
        socklen_t len = sizeof(err);

        r = wait_fd(fd, POLLOUT, IO_TIMEOUT_MS);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
        return -err;
}

static int accept_one(int lfd)
{
        int one = 1, fd, r;

        r = wait_fd(lfd, POLLIN, IO_TIMEOUT_MS);
        if (r < 0)
                return r;
        fd = track(accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

/* A connected pair: client to ip:port of the listener, server end accepted. */
static int pair_make(int lfd, const char *ip, int *ret_client, int *ret_server)
{
        int c, s, r;

        c = connect_start(ip, local_port(lfd), NULL, 0, 0);
        if (c < 0)
                return c;
        r = connect_finish(c);
        if (r < 0)
                return r;
        s = accept_one(lfd);
        if (s < 0)
                return s;
        *ret_client = c;
        *ret_server = s;
        return 0;
}

/* ---- streams: one direction of one connection, pattern bytes checked at the far end ---- */

typedef struct Flow {
        const char *name;
        int wfd, rfd;
        uint64_t seed;          /* offset into the pattern: tells streams apart */
        size_t wsize;           /* bytes per write() call */
        size_t send_goal;       /* send up to here */
        size_t read_goal;       /* read up to here */
        const struct Flow *echo_of; /* do not send more than this flow received */
        bool shutdown_at_goal;  /* SHUT_WR once send_goal is reached */
        size_t sent, recvd;
        bool shut;
} Flow;

static const uint8_t *pattern_at(const Flow *f, size_t off)
{
        return pattern + (f->seed + off) % PATTERN_PERIOD;
}

static size_t flow_send_limit(const Flow *f)
{
        size_t lim = f->send_goal;

        if (f->echo_of && f->echo_of->recvd < lim)
                lim = f->echo_of->recvd;
        return lim;
}

static int flow_write(Flow *f)
{
        size_t lim = flow_send_limit(f);

        while (f->sent < lim) {
                size_t n = f->wsize - f->sent % f->wsize;
                ssize_t w;

                if (n > lim - f->sent)
                        n = lim - f->sent;
                w = write(f->wfd, pattern_at(f, f->sent), n);
                if (w < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        FAIL("%s: write at %zu: %m", f->name, f->sent);
                }
                f->sent += (size_t) w;
        }
        if (f->shutdown_at_goal && !f->shut && f->sent == f->send_goal) {
                if (shutdown(f->wfd, SHUT_WR) < 0)
                        FAIL("%s: shutdown: %m", f->name);
                f->shut = true;
        }
        return 0;
}

static int flow_read(Flow *f)
{
        static uint8_t buf[256 * KiB];

        while (f->recvd < f->read_goal) {
                size_t n = f->read_goal - f->recvd;
                ssize_t r;

                if (n > sizeof(buf))
                        n = sizeof(buf);
                r = read(f->rfd, buf, n);
                if (r < 0) {
                        /* EAGAIN also after a wake-up without data: a known fastpath quirk. */
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        FAIL("%s: read at %zu: %m", f->name, f->recvd);
                }
                if (r == 0)
                        FAIL("%s: EOF after %zu of %zu bytes", f->name, f->recvd, f->read_goal);
                if (memcmp(buf, pattern_at(f, f->recvd), (size_t) r) != 0) {
                        size_t i = 0;

                        while (buf[i] == pattern_at(f, f->recvd)[i])
                                i++;
                        FAIL("%s: corrupt or reordered stream at byte %zu", f->name, f->recvd + i);
                }
                f->recvd += (size_t) r;
        }
        return 0;
}

static bool flow_done(const Flow *f)
{
        return f->sent >= f->send_goal && f->recvd >= f->read_goal &&
               (!f->shutdown_at_goal || f->shut);
}

/* Drives every flow until each reached its goals, or fails after timeout_ms. */
static int pump(Flow *flows, size_t n, int timeout_ms)
{
        _cleanup_free_ struct pollfd *p = calloc(2 * n, sizeof(struct pollfd));
        uint64_t deadline = now_ms() + (uint64_t) timeout_ms;

        if (!p)
                FAIL("out of memory");
        for (;;) {
                size_t np = 0;
                bool done = true;

                for (size_t i = 0; i < n; i++) {
                        if (flow_write(&flows[i]) < 0 || flow_read(&flows[i]) < 0)
                                return -1;
                        if (flow_done(&flows[i]))
                                continue;
                        done = false;
                        if (flows[i].sent < flow_send_limit(&flows[i]))
                                p[np++] = (struct pollfd) { .fd = flows[i].wfd, .events = POLLOUT };
                        if (flows[i].recvd < flows[i].read_goal)
                                p[np++] = (struct pollfd) { .fd = flows[i].rfd, .events = POLLIN };
                }
                if (done)
                        return 0;
                if (now_ms() >= deadline) {
                        for (size_t i = 0; i < n; i++)
                                if (!flow_done(&flows[i]))
                                        fprintf(stderr, "    %s: sent %zu/%zu, received %zu/%zu\n",
                                                flows[i].name, flows[i].sent, flows[i].send_goal,
                                                flows[i].recvd, flows[i].read_goal);
                        FAIL("timed out after %d ms", timeout_ms);
                }
                /* Short waits: an echo flow may become sendable by another flow's read. */
                if (np > 0 && poll(p, np, 50) < 0 && errno != EINTR)
                        FAIL("poll: %m");
        }
}

/* Client writes total bytes in wsize writes, the server echoes them back in wsize writes. */
static int echo(int c, int s, size_t wsize, size_t total, uint64_t seed)
{
        Flow f[2] = {
                { .name = "client->server", .wfd = c, .rfd = s, .seed = seed, .wsize = wsize,
                  .send_goal = total, .read_goal = total },
                { .name = "server->client", .wfd = s, .rfd = c, .seed = seed, .wsize = wsize,
                  .send_goal = total, .read_goal = total },
        };

        f[1].echo_of = &f[0];
        return pump(f, 2, IO_TIMEOUT_MS);
}

/* Reads until EOF, which must come right at the end of what the flow expects. */
static int expect_eof(int fd)
{
        uint64_t deadline = now_ms() + IO_TIMEOUT_MS;
        char c;

        for (;;) {
                ssize_t r = read(fd, &c, 1);

                if (r == 0)
                        return 0;
                if (r > 0)
                        FAIL("data after the expected end of stream");
                if (errno != EAGAIN && errno != EINTR)
                        FAIL("read: %m");
                if (now_ms() >= deadline)
                        FAIL("no EOF");
                (void) wait_fd(fd, POLLIN, 100);
        }
}

/* ---- the tests ---- */

static const size_t echo_sizes[] = { 1, 1 * KiB, 64 * KiB, 1 * MiB, 4 * MiB };

static size_t echo_total(size_t wsize)
{
        /* At least a few writes of every size, at least 256 KiB, at most 8 MiB per direction. */
        size_t total = wsize * 4;

        if (wsize == 1)
                return 2000;
        if (total < 256 * KiB)
                total = 256 * KiB;
        if (total > 8 * MiB)
                total = 8 * MiB;
        return total;
}

static int echo_test(const char *listen_ip, int v6only, const char *connect_ip)
{
        struct setup s = {};
        int r = -1, lfd, c, srv;
        DatapathStatistics a, b;
        uint64_t bytes = 0, writes = 0;

        setup_config(&s);
        if (setup_start(&s) < 0)
                goto out;
        lfd = listen_on(listen_ip, 0, v6only);
        if (lfd < 0 || datapath_set_port(s.dp, local_port(lfd), PORT_MODE_FASTPATH) < 0) {
                fprintf(stderr, "    listener or port failed\n");
                goto out;
        }

        for (size_t i = 0; i < ELEMENTSOF(echo_sizes); i++) {
                size_t total = echo_total(echo_sizes[i]);

                if (pair_make(lfd, connect_ip, &c, &srv) < 0 || stats(&s, &a) < 0) {
                        fprintf(stderr, "    connection failed\n");
                        goto out;
                }
                if (a.tracked_sockets != 2) {
                        fprintf(stderr, "    %llu sockets in the sockhash, expected 2\n",
                                (unsigned long long) a.tracked_sockets);
                        goto out;
                }
                if (echo(c, srv, echo_sizes[i], total, i * 7919) < 0 || stats(&s, &b) < 0) {
                        fprintf(stderr, "    echo of %zu-byte writes failed\n", echo_sizes[i]);
                        goto out;
                }
                /* Every byte of both directions went through the sockhash, none through TCP. */
                if (b.redirected_bytes - a.redirected_bytes != 2 * total || b.misses != a.misses ||
                    b.passed != a.passed) {
                        fprintf(stderr, "    %zu-byte writes: redirected %llu of %zu bytes, misses %llu, "
                                "passed %llu\n", echo_sizes[i],
                                (unsigned long long) (b.redirected_bytes - a.redirected_bytes), 2 * total,
                                (unsigned long long) (b.misses - a.misses),
                                (unsigned long long) (b.passed - a.passed));
                        goto out;
                }
                bytes += 2 * total;
                writes += b.redirected - a.redirected;
                untrack_close(c);
                untrack_close(srv);
        }
        printf("    %llu bytes echoed, all redirected, in %llu messages\n", (unsigned long long) bytes,
               (unsigned long long) writes);
        r = 0;
out:
        setup_done(&s);
        return r;
}

static int test_echo_ipv4(void)
{
        return echo_test("127.0.0.1", -1, "127.0.0.1");
}

static int test_echo_ipv6(void)
{
        return echo_test("::1", 1, "::1");
}

static int test_echo_dualstack_v4_client(void)
{
        return echo_test("::", 0, "127.0.0.1");
}

static int half_close_one(struct setup *s, const char *ip)
{
        DatapathStatistics a, b;
        int lfd, c, srv;

        lfd = listen_on(ip, 0, strchr(ip, ':') ? 1 : -1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(pair_make(lfd, ip, &c, &srv));
        CHECK_OK(stats(s, &a));

        /* The client sends 1 MiB and closes its side; the server sees all of it, then EOF, and
         * can still answer with 64 KiB and its own EOF. */
        Flow up = { .name = "client->server", .wfd = c, .rfd = srv, .seed = 11, .wsize = 64 * KiB,
                    .send_goal = 1 * MiB, .read_goal = 1 * MiB, .shutdown_at_goal = true };
        CHECK_OK(pump(&up, 1, IO_TIMEOUT_MS));
        CHECK_OK(expect_eof(srv));

        Flow down = { .name = "server->client", .wfd = srv, .rfd = c, .seed = 23, .wsize = 16 * KiB,
                      .send_goal = 64 * KiB, .read_goal = 64 * KiB, .shutdown_at_goal = true };
        CHECK_OK(pump(&down, 1, IO_TIMEOUT_MS));
        CHECK_OK(expect_eof(c));

        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 1 * MiB + 64 * KiB);
        CHECK_EQ_U64(b.misses - a.misses, 0);
        return 0;
}

static int test_half_close(void)
{
        struct setup s = {};
        int r;

        setup_config(&s);
        r = setup_start(&s);
        if (r >= 0)
                r = half_close_one(&s, "127.0.0.1");
        if (r >= 0)
                r = half_close_one(&s, "::1");
        setup_done(&s);
        return r;
}

#define N_CONNS 1000

static int many_connections(struct setup *s)
{
        static int client[N_CONNS], server[N_CONNS];
        static Flow flows[2 * N_CONNS];
        DatapathStatistics a, b;
        uint64_t deadline;
        uint16_t port;
        int lfd, by_port[65536];

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        port = local_port(lfd);
        CHECK_OK(datapath_set_port(s->dp, port, PORT_MODE_FASTPATH));
        CHECK_OK(stats(s, &a));

        memset(by_port, 0xff, sizeof(by_port));
        for (int i = 0; i < N_CONNS; i++) {
                client[i] = connect_start("127.0.0.1", port, NULL, 0, 0);
                CHECK(client[i] >= 0);
        }
        for (int i = 0; i < N_CONNS; i++) {
                CHECK_OK(connect_finish(client[i]));
                by_port[local_port(client[i])] = i;
        }
        for (int i = 0; i < N_CONNS; i++) {
                Addr peer = { .len = sizeof(peer) };
                int fd = accept_one(lfd), k;

                CHECK(fd >= 0);
                CHECK(getpeername(fd, &peer.sa, &peer.len) >= 0);
                k = by_port[addr_port(&peer)];
                CHECK(k >= 0);
                server[k] = fd;
        }

        /* All open at once: 100 bytes each way on every connection. */
        for (int i = 0; i < N_CONNS; i++) {
                flows[2 * i] = (Flow) { .name = "client->server", .wfd = client[i], .rfd = server[i],
                                        .seed = (uint64_t) i * 101, .wsize = 100, .send_goal = 100,
                                        .read_goal = 100 };
                flows[2 * i + 1] = (Flow) { .name = "server->client", .wfd = server[i], .rfd = client[i],
                                            .seed = (uint64_t) i * 101, .wsize = 100, .send_goal = 100,
                                            .read_goal = 100, .echo_of = &flows[2 * i] };
        }
        CHECK_OK(pump(flows, 2 * N_CONNS, IO_TIMEOUT_MS));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.tracked_sockets, 2 * N_CONNS);
        CHECK_EQ_U64(b.inserted - a.inserted, 2 * N_CONNS);
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 2 * 100 * N_CONNS);
        CHECK_EQ_U64(b.misses - a.misses, 0);

        for (int i = 0; i < N_CONNS; i++) {
                untrack_close(client[i]);
                untrack_close(server[i]);
        }
        /* The kernel drops closed sockets from the sockhash by itself. */
        deadline = now_ms() + 5000;
        do {
                CHECK_OK(stats(s, &b));
                if (b.tracked_sockets == 0)
                        break;
                usleep(10000);
        } while (now_ms() < deadline);
        CHECK_EQ_U64(b.tracked_sockets, 0);
        return 0;
}

static int test_many_connections(void)
{
        struct setup s = {};
        struct rlimit rl;
        int r;

        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < 4 * N_CONNS) {
                rl.rlim_cur = rl.rlim_max < 4 * N_CONNS ? rl.rlim_max : 4 * N_CONNS;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        setup_config(&s);
        r = setup_start(&s);
        if (r >= 0)
                r = many_connections(&s);
        setup_done(&s);
        return r;
}

/* A connection on a port that is not (or not for the fastpath) managed stays plain TCP. */
static int not_tracked(struct setup *s, int manage, PortMode mode)
{
        DatapathStatistics a, b;
        int lfd, c, srv;

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        if (manage)
                CHECK_OK(datapath_set_port(s->dp, local_port(lfd), mode));
        CHECK_OK(stats(s, &a));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        CHECK_OK(echo(c, srv, 16 * KiB, 256 * KiB, 3));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.tracked_sockets, 0);
        CHECK_EQ_U64(b.inserted, a.inserted);
        CHECK_EQ_U64(b.redirected, a.redirected);
        return 0;
}

static int with_setup(int (*fn)(struct setup *s, int arg, PortMode mode), int arg, PortMode mode)
{
        struct setup s = {};
        int r;

        setup_config(&s);
        r = setup_start(&s);
        if (r >= 0)
                r = fn(&s, arg, mode);
        setup_done(&s);
        return r;
}

static int test_unmanaged_port_not_tracked(void)
{
        return with_setup(not_tracked, false, PORT_MODE_FASTPATH);
}

static int test_intercept_only_port_not_tracked(void)
{
        return with_setup(not_tracked, true, PORT_MODE_INTERCEPT_ONLY);
}

/* Sends n more bytes and reads all but the last lag: the unread bytes of one phase still wait
 * in the receiver's queue when the next phase's bytes take another path. */
static int advance(Flow *f, size_t n, size_t lag)
{
        f->send_goal += n;
        f->read_goal = f->send_goal - lag;
        return pump(f, 1, IO_TIMEOUT_MS);
}

static int switch_off_on(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b, c2;
        int lfd, c, srv, c3, srv3;

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        CHECK_OK(stats(s, &a));

        Flow f = { .name = "client->server", .wfd = c, .rfd = srv, .seed = 5, .wsize = 4 * KiB };
        Flow g = { .name = "server->client", .wfd = srv, .rfd = c, .seed = 9, .wsize = 4 * KiB };

        /* On: redirected; 64 KiB left unread in the receiver's queue. */
        CHECK_OK(advance(&f, 512 * KiB, 64 * KiB));
        CHECK_OK(advance(&g, 128 * KiB, 64 * KiB));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 640 * KiB);

        /* Off: from now on the established connection passes, behind the unread bytes. */
        CHECK_OK(datapath_set_fastpath(s->dp, false));
        CHECK_OK(advance(&f, 512 * KiB, 64 * KiB));
        CHECK_OK(advance(&g, 128 * KiB, 64 * KiB));

        /* On again: this connection stays passing (one-way), a new one is redirected. */
        CHECK_OK(datapath_set_fastpath(s->dp, true));
        CHECK_OK(advance(&f, 512 * KiB, 0));
        CHECK_OK(advance(&g, 128 * KiB, 0));
        CHECK_OK(stats(s, &c2));
        CHECK_EQ_U64(c2.redirected_bytes, b.redirected_bytes);
        CHECK_EQ_U64(c2.passed_bytes - b.passed_bytes, 2 * 640 * KiB);

        CHECK_OK(pair_make(lfd, "127.0.0.1", &c3, &srv3));
        CHECK_OK(echo(c3, srv3, 8 * KiB, 256 * KiB, 77));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.redirected_bytes - c2.redirected_bytes, 2 * 256 * KiB);

        /* Off before connecting: the new connection never enters the sockhash. */
        CHECK_OK(datapath_set_fastpath(s->dp, false));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c3, &srv3));
        CHECK_OK(stats(s, &c2));
        CHECK_EQ_U64(c2.inserted, b.inserted);
        CHECK_OK(echo(c3, srv3, 8 * KiB, 256 * KiB, 78));
        return 0;
}

static int test_switch_off_on_mid_stream(void)
{
        return with_setup(switch_off_on, 0, 0);
}

static int pass_large_writes(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b, c2;
        int lfd, c, srv;

        CHECK_OK(datapath_set_pass_large_writes(s->dp, 64 * KiB));
        lfd = listen_on("::1", 0, 1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(pair_make(lfd, "::1", &c, &srv));
        CHECK_OK(stats(s, &a));

        Flow f = { .name = "client->server", .wfd = c, .rfd = srv, .seed = 31, .wsize = 1 * KiB };
        Flow g = { .name = "server->client", .wfd = srv, .rfd = c, .seed = 37, .wsize = 1 * KiB };

        /* Small writes: redirected, 32 KiB left unread. */
        CHECK_OK(advance(&f, 256 * KiB, 32 * KiB));
        CHECK_OK(advance(&g, 64 * KiB, 0));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 320 * KiB);
        CHECK_EQ_U64(b.passed, a.passed);

        /* One large write: this direction passes from here on, for ever, even for small
         * writes; the other direction is not affected. */
        f.wsize = 256 * KiB;
        CHECK_OK(advance(&f, 256 * KiB, 32 * KiB));
        f.wsize = 1 * KiB;
        CHECK_OK(advance(&f, 64 * KiB, 0));
        CHECK_OK(advance(&g, 64 * KiB, 0));
        CHECK_OK(stats(s, &c2));
        CHECK_EQ_U64(c2.passed_bytes - b.passed_bytes, 320 * KiB);
        CHECK_EQ_U64(c2.redirected_bytes - b.redirected_bytes, 64 * KiB);
        return 0;
}

static int test_pass_large_writes_mid_stream(void)
{
        return with_setup(pass_large_writes, 0, 0);
}

static int peer_outside_cgroup(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b;
        int lfd, c, srv;

        /* The listener (and so every socket it accepts) belongs to another cgroup. */
        CHECK_OK(cgroup_enter(cgroup_other));
        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK_OK(cgroup_enter(cgroup_dir));
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(stats(s, &a));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        CHECK_OK(echo(c, srv, 4 * KiB, 256 * KiB, 41));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.tracked_sockets, 1);     /* only our client */
        CHECK_EQ_U64(b.redirected, a.redirected);
        CHECK(b.misses > a.misses);
        return 0;
}

static int test_peer_outside_cgroup(void)
{
        return with_setup(peer_outside_cgroup, 0, 0);
}

/* Anonymous network namespaces: they vanish with the last socket in them, nothing to clean. */
static int netns_new(void)
{
        int fd;

        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        fd = track(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
        if (fd < 0)
                return -errno;
        if (system("ip link set lo up") != 0)
                return -EIO;
        return fd;
}

static int netns_enter(int fd)
{
        return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

static int run_cmd(const char *fmt, ...)
{
        char cmd[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        if (system(cmd) != 0) {
                fprintf(stderr, "    command failed: %s\n", cmd);
                return -EIO;
        }
        return 0;
}

static int peer_in_other_netns(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b;
        int ns_a, ns_b, lfd, c, srv;

        /* Client in A (198.18.0.1), server in B (198.18.0.2), a veth pair between them. */
        ns_b = netns_new();
        CHECK(ns_b >= 0);
        CHECK(fcntl(ns_b, F_SETFD, 0) >= 0);    /* ip(8) opens it as /proc/PID/fd/N */
        ns_a = netns_new();
        CHECK(ns_a >= 0);
        CHECK_OK(run_cmd("ip link add skfp-va type veth peer name skfp-vb netns /proc/%d/fd/%d && "
                         "ip addr add 198.18.0.1/24 dev skfp-va && ip link set skfp-va up",
                         getpid(), ns_b));
        CHECK_OK(netns_enter(ns_b));
        CHECK_OK(run_cmd("ip addr add 198.18.0.2/24 dev skfp-vb && ip link set skfp-vb up"));
        lfd = listen_on("198.18.0.2", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(netns_enter(ns_a));

        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(stats(s, &a));
        c = connect_start("198.18.0.2", local_port(lfd), NULL, 0, 0);
        CHECK(c >= 0);
        CHECK_OK(connect_finish(c));
        srv = accept_one(lfd);
        CHECK(srv >= 0);
        CHECK_OK(netns_enter(home_netns));

        CHECK_OK(echo(c, srv, 4 * KiB, 256 * KiB, 43));
        CHECK_OK(stats(s, &b));
        /* Both ends are in the sockhash, each under its own namespace: never matched. */
        CHECK_EQ_U64(b.tracked_sockets, 2);
        CHECK_EQ_U64(b.redirected, a.redirected);
        CHECK(b.misses > a.misses);
        return 0;
}

static int test_peer_in_other_netns(void)
{
        return with_setup(peer_in_other_netns, 0, 0);
}

/* Two namespaces with the very same 4-tuple: four sockhash entries, each stream to its own. */
static int same_tuple_other_netns(struct setup *s, int arg, PortMode mode)
{
        const uint16_t port = 15099, cport = 40099;
        DatapathStatistics a, b;
        int c[2], srv[2];

        CHECK_OK(datapath_set_port(s->dp, port, PORT_MODE_FASTPATH));
        CHECK_OK(stats(s, &a));
        for (int i = 0; i < 2; i++) {
                int lfd;

                CHECK(netns_new() >= 0);
                lfd = listen_on("127.0.0.1", port, -1);
                CHECK(lfd >= 0);
                c[i] = connect_start("127.0.0.1", port, "127.0.0.1", cport, 0);
                CHECK(c[i] >= 0);
                CHECK_OK(connect_finish(c[i]));
                srv[i] = accept_one(lfd);
                CHECK(srv[i] >= 0);
        }
        CHECK_OK(netns_enter(home_netns));

        Flow f[4] = {
                { .name = "A client->server", .wfd = c[0], .rfd = srv[0], .seed = 1000, .wsize = 8 * KiB },
                { .name = "A server->client", .wfd = srv[0], .rfd = c[0], .seed = 2000, .wsize = 8 * KiB },
                { .name = "B client->server", .wfd = c[1], .rfd = srv[1], .seed = 3000, .wsize = 8 * KiB },
                { .name = "B server->client", .wfd = srv[1], .rfd = c[1], .seed = 4000, .wsize = 8 * KiB },
        };
        for (int i = 0; i < 4; i++)
                f[i].send_goal = f[i].read_goal = 512 * KiB;
        CHECK_OK(pump(f, 4, IO_TIMEOUT_MS));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.tracked_sockets, 4);
        CHECK_EQ_U64(b.insert_failed, a.insert_failed);
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 4 * 512 * KiB);
        return 0;
}

static int test_same_tuple_other_netns(void)
{
        return with_setup(same_tuple_other_netns, 0, 0);
}

static int bypass_mark_skipped(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b;
        int lfd, c, srv;

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(stats(s, &a));
        c = connect_start("127.0.0.1", local_port(lfd), NULL, 0, s->config.bypass_mark);
        CHECK(c >= 0);
        CHECK_OK(connect_finish(c));
        srv = accept_one(lfd);
        CHECK(srv >= 0);
        CHECK_OK(echo(c, srv, 4 * KiB, 256 * KiB, 47));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.skipped_mark - a.skipped_mark, 1);
        CHECK_EQ_U64(b.tracked_sockets, 1);     /* the server end, which carries no mark */
        CHECK_EQ_U64(b.redirected, a.redirected);
        return 0;
}

static int test_bypass_mark_skipped(void)
{
        return with_setup(bypass_mark_skipped, 0, 0);
}

static int sockhash_full(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics b;
        int lfd, c[4], srv[4];

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        /* 4 entries, 4 connections: 8 sockets, the later ones find the map full. */
        for (int i = 0; i < 4; i++)
                CHECK_OK(pair_make(lfd, "127.0.0.1", &c[i], &srv[i]));
        for (int i = 0; i < 4; i++)
                CHECK_OK(echo(c[i], srv[i], 4 * KiB, 128 * KiB, 50 + i));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.tracked_sockets, 4);
        CHECK_EQ_U64(b.inserted, 4);
        CHECK_EQ_U64(b.insert_failed, 4);
        CHECK(b.redirected > 0);
        return 0;
}

static int test_sockhash_full_counted(void)
{
        struct setup s = {};
        int r;

        setup_config(&s);
        s.config.max_sockets = 4;
        r = setup_start(&s);
        if (r >= 0)
                r = sockhash_full(&s, 0, 0);
        setup_done(&s);
        return r;
}

static int cgroup_sockops_progs(const char *dir, uint32_t *ret_ids, uint32_t *ret_n)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (bpf_prog_query(fd, BPF_CGROUP_SOCK_OPS, 0, NULL, ret_ids, ret_n) < 0)
                return -errno;
        return 0;
}

static int pinned_link_prog_id(const char *pin_dir, uint32_t *ret)
{
        char path[4300];
        struct bpf_link_info info = {};
        uint32_t len = sizeof(info);
        _cleanup_close_ int fd = -EBADF;

        snprintf(path, sizeof(path), "%s/sockops_link", pin_dir);
        fd = bpf_obj_get(path);
        if (fd < 0)
                return -errno;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return -errno;
        *ret = info.prog_id;
        return 0;
}

/* The sk_msg program attached to the pinned sockhash. */
static int sockhash_msg_prog(const char *pin_dir, uint32_t *ret_id)
{
        char path[4300];
        uint32_t ids[4], n = 4;
        _cleanup_close_ int fd = -EBADF;

        snprintf(path, sizeof(path), "%s/sockhash", pin_dir);
        fd = bpf_obj_get(path);
        if (fd < 0)
                return -errno;
        if (bpf_prog_query(fd, BPF_SK_MSG_VERDICT, 0, NULL, ids, &n) < 0)
                return -errno;
        if (n != 1)
                return -ENOENT;
        *ret_id = ids[0];
        return 0;
}

static int restart_adopts(struct setup *s, int arg, PortMode mode)
{
        uint32_t ids[8], n = 8, id_before, id_after, link_id, msg_before, msg_after;
        DatapathStatistics a, b;
        int lfd, c, srv, c2, srv2;

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(config_add_port(&s->config, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        CHECK_OK(echo(c, srv, 16 * KiB, 1 * MiB, 60));
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 1);
        id_before = ids[0];
        CHECK_OK(sockhash_msg_prog(s->pin_dir, &msg_before));

        /* The daemon goes away without a clean stop: everything stays attached and pinned. */
        s->dp = datapath_free(s->dp);
        n = 8;
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 1);
        CHECK_OK(echo(c, srv, 16 * KiB, 1 * MiB, 61));

        /* A new one adopts: one attachment still, now running the new program. */
        CHECK_OK(setup_start(s));
        CHECK_OK(stats(s, &a));
        CHECK_EQ_U64(a.tracked_sockets, 2);
        n = 8;
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 1);
        id_after = ids[0];
        CHECK(id_after != id_before);
        CHECK_OK(pinned_link_prog_id(s->pin_dir, &link_id));
        CHECK_EQ_U64(link_id, id_after);
        CHECK_EQ_U64(pin_dir_count(s->pin_dir), DATAPATH_N_PINNED);
        CHECK_OK(sockhash_msg_prog(s->pin_dir, &msg_after));
        CHECK(msg_after != msg_before);

        /* The established connection keeps flowing byte-exact on the fastpath, counters shared. */
        CHECK_OK(echo(c, srv, 16 * KiB, 1 * MiB, 62));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 2 * MiB);
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c2, &srv2));
        CHECK_OK(echo(c2, srv2, 16 * KiB, 1 * MiB, 63));
        CHECK_OK(stats(s, &a));
        CHECK_EQ_U64(a.redirected_bytes - b.redirected_bytes, 2 * MiB);
        CHECK_EQ_U64(a.tracked_sockets, 4);

        /* A clean stop: nothing attached, nothing pinned; established connections go on over
         * plain TCP, byte-exact. */
        datapath_unpin(s->dp);
        n = 8;
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 0);
        CHECK(pin_dir_empty_or_gone(s->pin_dir));
        CHECK(access(s->pin_dir, F_OK) < 0 && errno == ENOENT);
        CHECK_OK(stats(s, &b));
        CHECK_OK(echo(c, srv, 16 * KiB, 1 * MiB, 64));
        CHECK_OK(echo(c2, srv2, 16 * KiB, 1 * MiB, 65));
        CHECK_OK(stats(s, &a));
        CHECK_EQ_U64(a.redirected_bytes, b.redirected_bytes);
        CHECK_EQ_U64(a.passed_bytes - b.passed_bytes, 4 * MiB);
        s->dp = datapath_free(s->dp);
        return 0;
}

static int test_restart_adopts_pins(void)
{
        return with_setup(restart_adopts, 0, 0);
}

/* MaxSockets= and CgroupPath= changed across a restart: the stale pins are replaced, not
 * stacked, and a connection of the old run keeps working. */
static int restart_reconfigured(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b;
        uint32_t ids[8], n = 8;
        int lfd, c, srv, fd;
        struct bpf_map_info info = {};
        uint32_t len = sizeof(info);
        char path[4300];

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(config_add_port(&s->config, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        CHECK_OK(echo(c, srv, 16 * KiB, 256 * KiB, 70));
        s->dp = datapath_free(s->dp);

        s->config.max_sockets = 1024;
        free(s->config.cgroup_path);
        s->config.cgroup_path = strdup(cgroup_other);
        CHECK_OK(setup_start(s));

        snprintf(path, sizeof(path), "%s/sockhash", s->pin_dir);
        fd = track(bpf_obj_get(path));
        CHECK(fd >= 0);
        CHECK(bpf_obj_get_info_by_fd(fd, &info, &len) >= 0);
        CHECK_EQ_U64(info.max_entries, 1024);
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 0);
        n = 8;
        CHECK_OK(cgroup_sockops_progs(cgroup_other, ids, &n));
        CHECK_EQ_U64(n, 1);
        CHECK_EQ_U64(pin_dir_count(s->pin_dir), DATAPATH_N_PINNED);

        /* The old connection still runs through the old (replaced) sockhash. */
        CHECK_OK(stats(s, &a));
        CHECK_EQ_U64(a.tracked_sockets, 0);
        CHECK_OK(echo(c, srv, 16 * KiB, 256 * KiB, 71));
        CHECK_OK(stats(s, &b));
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, 2 * 256 * KiB);
        return 0;
}

static int test_restart_reconfigured(void)
{
        return with_setup(restart_reconfigured, 0, 0);
}

static int test_unpin_leaves_nothing(void)
{
        struct setup s = {};
        uint32_t ids[8], n = 8;

        setup_config(&s);
        CHECK_OK(setup_start(&s));
        CHECK_EQ_U64(pin_dir_count(s.pin_dir), DATAPATH_N_PINNED);
        datapath_unpin(s.dp);
        s.dp = datapath_free(s.dp);
        CHECK(access(s.pin_dir, F_OK) < 0 && errno == ENOENT);
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 0);
        setup_done(&s);
        return 0;
}

static int test_bad_config_changes_nothing(void)
{
        struct setup s = {};
        char tmp[] = "/tmp/skfp-fastpath-XXXXXX";
        char path[4300];
        int r;

        CHECK(mkdtemp(tmp));

        /* A cgroup that does not exist */
        setup_config(&s);
        free(s.config.cgroup_path);
        snprintf(path, sizeof(path), "%s/does-not-exist", cgroup_dir);
        s.config.cgroup_path = strdup(path);
        r = setup_start(&s);
        CHECK(r == -ENOENT);
        CHECK(access(s.pin_dir, F_OK) < 0);
        setup_done(&s);

        /* A directory that is not a cgroup2 one */
        setup_config(&s);
        free(s.config.cgroup_path);
        s.config.cgroup_path = strdup(tmp);
        r = setup_start(&s);
        CHECK(r == -EINVAL);
        CHECK(access(s.pin_dir, F_OK) < 0);
        setup_done(&s);

        /* A pin directory outside bpffs: refused before anything is created there */
        setup_config(&s);
        free(s.config.pin_directory);
        snprintf(path, sizeof(path), "%s/pins/sub", tmp);
        s.config.pin_directory = strdup(path);
        r = setup_start(&s);
        CHECK(r == -EINVAL);
        snprintf(path, sizeof(path), "%s/pins", tmp);
        CHECK(access(path, F_OK) < 0);
        setup_done(&s);

        /* The kernel refuses the load (a sockhash of 0 entries): nothing pinned, nothing left */
        setup_config(&s);
        s.config.max_sockets = 0;
        r = setup_start(&s);
        CHECK(r < 0);
        CHECK(access(s.pin_dir, F_OK) < 0 && errno == ENOENT);
        setup_done(&s);

        uint32_t ids[8], n = 8;
        CHECK_OK(cgroup_sockops_progs(cgroup_dir, ids, &n));
        CHECK_EQ_U64(n, 0);
        CHECK(rmdir(tmp) >= 0);
        return 0;
}


/* ---- receivers: who may be redirected into (the shipped default: only the relay's sockets) ---- */

static int setup_untrusted(struct setup *s)
{
        setup_config(s);
        s->untrusted = true;
        return setup_start(s);
}

/* An application's server on a fastpath port is no receiver by default: both directions go
 * through TCP, byte-exact, and the connection counts as a miss. */
static int test_default_app_not_receiver(void)
{
        struct setup s = {};
        DatapathStatistics a, b;
        int lfd, c, srv, r = -1;

        if (setup_untrusted(&s) < 0)
                goto out;
        lfd = listen_on("127.0.0.1", 0, -1);
        if (lfd < 0 || datapath_set_port(s.dp, local_port(lfd), PORT_MODE_FASTPATH) < 0 ||
            pair_make(lfd, "127.0.0.1", &c, &srv) < 0 || stats(&s, &a) < 0)
                goto out;
        if (echo(c, srv, 64 * KiB, 2 * MiB, 5) < 0 || stats(&s, &b) < 0)
                goto out;
        if (a.tracked_sockets != 2 || b.redirected_bytes != a.redirected_bytes || b.misses <= a.misses ||
            b.receivers != 0) {
                fprintf(stderr, "    tracked %llu, redirected %llu bytes, misses %llu, receivers %llu\n",
                        (unsigned long long) a.tracked_sockets,
                        (unsigned long long) (b.redirected_bytes - a.redirected_bytes),
                        (unsigned long long) (b.misses - a.misses), (unsigned long long) b.receivers);
                goto out;
        }
        r = 0;
out:
        setup_done(&s);
        return r;
}

/* Moves everything from src to dst with splice(2) through a pipe, as Go's io.Copy does between
 * two TCP connections; at EOF shuts dst's sending side. Non-blocking fds (shared with the
 * parent's file descriptions), driven by poll. Runs in a child: exits 0 on EOF, 1 otherwise. */
static _Noreturn void splice_copy(int src, int dst)
{
        uint64_t deadline = now_ms() + IO_TIMEOUT_MS;
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                _exit(1);
        while (now_ms() < deadline) {
                ssize_t n = splice(src, NULL, p[1], NULL, 64 * KiB, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

                if (n == 0) {
                        (void) shutdown(dst, SHUT_WR);
                        _exit(0);
                }
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                _exit(1);
                        (void) wait_fd(src, POLLIN, 100);
                        continue;
                }
                while (n > 0 && now_ms() < deadline) {
                        ssize_t w = splice(p[0], NULL, dst, NULL, (size_t) n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

                        if (w < 0) {
                                if (errno != EAGAIN && errno != EINTR)
                                        _exit(1);
                                (void) wait_fd(dst, POLLOUT, 100);
                                continue;
                        }
                        n -= w;
                }
        }
        _exit(1);
}

static int child_wait(pid_t pid)
{
        int status;

        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* A transparent proxy in the style of Go proxies behind Relay=no: it accepts the client on a
 * fastpath port, dials the destination (a fastpath port too) and splices both ways. Every byte
 * must arrive, both directions, byte-exact, with the shipped defaults. */
static int splice_proxy_once(struct setup *s, int plfd, int ulfd, size_t wsize, size_t total, uint64_t seed)
{
        int c, pc, pu, us;
        pid_t up, down;

        CHECK_OK(pair_make(plfd, "127.0.0.1", &c, &pc));
        CHECK_OK(pair_make(ulfd, "127.0.0.1", &pu, &us));
        up = fork();
        CHECK(up >= 0);
        if (up == 0)
                splice_copy(pc, pu);
        down = fork();
        CHECK(down >= 0);
        if (down == 0)
                splice_copy(pu, pc);

        Flow f[2] = {
                { .name = "client->proxy->server", .wfd = c, .rfd = us, .seed = seed, .wsize = wsize,
                  .send_goal = total, .read_goal = total, .shutdown_at_goal = true },
                { .name = "server->proxy->client", .wfd = us, .rfd = c, .seed = seed + 17, .wsize = wsize,
                  .send_goal = total, .read_goal = total, .shutdown_at_goal = true },
        };
        {
                int r = pump(f, 2, IO_TIMEOUT_MS);

                if (r < 0) {
                        (void) kill(up, SIGKILL);
                        (void) kill(down, SIGKILL);
                        (void) child_wait(up);
                        (void) child_wait(down);
                        FAIL("%zu-byte writes through the splice proxy failed", wsize);
                }
        }
        CHECK_OK(expect_eof(us));
        CHECK_OK(expect_eof(c));
        CHECK_OK(child_wait(up));
        CHECK_OK(child_wait(down));
        untrack_close(c);
        untrack_close(pc);
        untrack_close(pu);
        untrack_close(us);
        return 0;
}

static int test_splice_proxy_default(void)
{
        static const size_t sizes[] = { 1, 20, 1 * KiB, 64 * KiB, 1 * MiB };
        struct setup s = {};
        int plfd, ulfd, r = -1;

        if (setup_untrusted(&s) < 0)
                goto out;
        plfd = listen_on("127.0.0.1", 0, -1);
        ulfd = listen_on("127.0.0.1", 0, -1);
        if (plfd < 0 || ulfd < 0 || datapath_set_port(s.dp, local_port(plfd), PORT_MODE_FASTPATH) < 0 ||
            datapath_set_port(s.dp, local_port(ulfd), PORT_MODE_FASTPATH) < 0)
                goto out;
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                if (splice_proxy_once(&s, plfd, ulfd, sizes[i], sizes[i] == 1 ? 2000 : echo_total(sizes[i]),
                                      31 * i) < 0)
                        goto out;
        r = 0;
out:
        setup_done(&s);
        return r;
}

/* Reads flow f's bytes from f->rfd with splice() into a pipe, checking them, until read_goal. */
static int splice_read_flow(Flow *f, int timeout_ms)
{
        static uint8_t buf[64 * KiB];
        uint64_t deadline = now_ms() + (uint64_t) timeout_ms;
        _cleanup_close_ int p0 = -EBADF, p1 = -EBADF;
        int p[2];

        CHECK(pipe2(p, O_CLOEXEC) >= 0);
        p0 = p[0];
        p1 = p[1];
        while (f->recvd < f->read_goal) {
                ssize_t n = splice(f->rfd, NULL, p1, NULL, sizeof(buf), SPLICE_F_NONBLOCK);

                if (n == 0)
                        FAIL("%s: EOF after %zu of %zu bytes", f->name, f->recvd, f->read_goal);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                FAIL("%s: splice: %m", f->name);
                        if (now_ms() >= deadline)
                                FAIL("%s: timed out after %zu of %zu bytes", f->name, f->recvd, f->read_goal);
                        (void) wait_fd(f->rfd, POLLIN, 100);
                        continue;
                }
                CHECK(read(p0, buf, (size_t) n) == n);
                if (memcmp(buf, pattern_at(f, f->recvd), (size_t) n) != 0)
                        FAIL("%s: corrupt or reordered stream near byte %zu", f->name, f->recvd);
                f->recvd += (size_t) n;
        }
        return 0;
}

/* The client side writes in a child (blocking on its own poll loop); the parent splices. */
static int splice_receive(int c, int srv, size_t wsize, size_t total, uint64_t seed)
{
        Flow w = { .name = "client->splicer", .wfd = c, .rfd = -1, .seed = seed, .wsize = wsize,
                   .send_goal = total };
        Flow rd = { .name = "client->splicer", .rfd = srv, .seed = seed, .read_goal = total };
        pid_t pid;
        int r;

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
                _exit(pump(&w, 1, IO_TIMEOUT_MS) < 0 ? 1 : 0);
        r = splice_read_flow(&rd, IO_TIMEOUT_MS);
        if (r < 0)
                (void) kill(pid, SIGKILL);
        CHECK_OK(child_wait(pid));
        return r;
}

/* A local server on a fastpath port that reads with splice() gets every byte by default. */
static int test_splice_receiver_default(void)
{
        static const size_t sizes[] = { 1, 1 * KiB, 64 * KiB, 1 * MiB };
        struct setup s = {};
        int lfd, c, srv, r = -1;

        if (setup_untrusted(&s) < 0)
                goto out;
        lfd = listen_on("127.0.0.1", 0, -1);
        if (lfd < 0 || datapath_set_port(s.dp, local_port(lfd), PORT_MODE_FASTPATH) < 0)
                goto out;
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                if (pair_make(lfd, "127.0.0.1", &c, &srv) < 0 ||
                    splice_receive(c, srv, sizes[i], sizes[i] == 1 ? 2000 : echo_total(sizes[i]), 3 * i) < 0) {
                        fprintf(stderr, "    %zu-byte writes to a splice reader failed\n", sizes[i]);
                        goto out;
                }
                untrack_close(c);
                untrack_close(srv);
        }
        r = 0;
out:
        setup_done(&s);
        return r;
}

#define BYPASS_MARK 0x5a5a

/* The relay's listener carries the bypass mark: what it accepts inherits it and is a receiver:
 * the application's data to it is redirected; the relay's answers are redirected only into a
 * declared receiver (arg: the test's cgroup trusted), else they go through TCP. */
static int relay_receiver(struct setup *s, int arg, PortMode mode)
{
        DatapathStatistics a, b;
        uint32_t mark = 0;
        socklen_t len = sizeof(mark);
        int lfd, c, srv;

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        CHECK_OK(datapath_listener_set_mark(lfd, BYPASS_MARK));
        CHECK_OK(datapath_set_port(s->dp, local_port(lfd), PORT_MODE_FASTPATH));
        CHECK_OK(trust_test_cgroup(s, arg));
        CHECK_OK(stats(s, &a));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        CHECK(getsockopt(srv, SOL_SOCKET, SO_MARK, &mark, &len) >= 0);
        CHECK_EQ_U64(mark, BYPASS_MARK);

        Flow f[2] = {
                { .name = "app->relay", .wfd = c, .rfd = srv, .seed = 3, .wsize = 64 * KiB,
                  .send_goal = 4 * MiB, .read_goal = 4 * MiB, .shutdown_at_goal = true },
                { .name = "relay->app", .wfd = srv, .rfd = c, .seed = 9, .wsize = 64 * KiB,
                  .send_goal = 1 * MiB, .read_goal = 1 * MiB, .shutdown_at_goal = true },
        };
        CHECK_OK(pump(f, 2, IO_TIMEOUT_MS));
        CHECK_OK(expect_eof(srv));
        CHECK_OK(expect_eof(c));
        CHECK_OK(stats(s, &b));
        /* the relay's socket; and the application's when its cgroup is trusted */
        CHECK_EQ_U64(b.receivers - a.receivers, arg ? 2 : 1);
        CHECK_EQ_U64(b.inserted - a.inserted, 2);
        CHECK_EQ_U64(b.redirected_bytes - a.redirected_bytes, arg ? 5 * MiB : 4 * MiB);
        return 0;
}

static int test_relay_receiver(void)
{
        struct setup s = {};
        int r;

        setup_config(&s);
        s.untrusted = true;
        s.config.bypass_mark = BYPASS_MARK;
        r = setup_start(&s);
        if (r >= 0)
                r = relay_receiver(&s, 0, 0);
        if (r >= 0)
                r = relay_receiver(&s, 1, 0);
        setup_done(&s);
        return r;
}

/* A trusted port's server is a receiver; its client (not trusted) is not. */
static int test_trusted_port_receiver(void)
{
        struct setup s = {};
        DatapathStatistics a, b;
        int lfd, c, srv, r = -1;

        if (setup_untrusted(&s) < 0)
                goto out;
        lfd = listen_on("::1", 0, 1);
        if (lfd < 0 || datapath_set_port(s.dp, local_port(lfd), PORT_MODE_TRUSTED) < 0 ||
            pair_make(lfd, "::1", &c, &srv) < 0 || stats(&s, &a) < 0)
                goto out;
        Flow f[2] = {
                { .name = "client->trusted", .wfd = c, .rfd = srv, .seed = 1, .wsize = 16 * KiB,
                  .send_goal = 2 * MiB, .read_goal = 2 * MiB },
                { .name = "trusted->client", .wfd = srv, .rfd = c, .seed = 2, .wsize = 16 * KiB,
                  .send_goal = 1 * MiB, .read_goal = 1 * MiB },
        };
        if (pump(f, 2, IO_TIMEOUT_MS) < 0 || stats(&s, &b) < 0)
                goto out;
        if (b.redirected_bytes - a.redirected_bytes != 2 * MiB || b.misses <= a.misses) {
                fprintf(stderr, "    redirected %llu bytes, misses %llu\n",
                        (unsigned long long) (b.redirected_bytes - a.redirected_bytes),
                        (unsigned long long) (b.misses - a.misses));
                goto out;
        }
        r = 0;
out:
        setup_done(&s);
        return r;
}

static uint32_t sock_rmem(int fd)
{
        uint32_t mem[SK_MEMINFO_VARS] = {};
        socklen_t len = sizeof(mem);

        if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
                return UINT32_MAX;
        return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Writes into c (non-blocking) until it has not moved for quiet_ms; returns what it wrote. */
static ssize_t write_until_blocked(int c, size_t goal, int quiet_ms, uint64_t seed)
{
        Flow w = { .name = "paused", .wfd = c, .rfd = -1, .seed = seed, .wsize = 64 * KiB, .send_goal = goal };
        uint64_t last = now_ms();
        size_t before;

        while (w.sent < goal && now_ms() - last < (uint64_t) quiet_ms) {
                before = w.sent;
                if (flow_write(&w) < 0)
                        return -1;
                if (w.sent != before)
                        last = now_ms();
                else
                        (void) wait_fd(c, POLLOUT, 50);
        }
        return (ssize_t) w.sent;
}

/* A declared receiver that stops reading for seconds: its sender is held near plain TCP's
 * amount (the bound, then TCP's own windows), never sees ENOMEM, and every byte arrives. */
static int paused_receiver(struct setup *s, PortMode mode, ssize_t *ret_sent, uint32_t *ret_rmem)
{
        DatapathStatistics a, b;
        int lfd, c, srv;
        ssize_t sent;

        lfd = listen_on("127.0.0.1", 0, -1);
        CHECK(lfd >= 0);
        if (s)
                CHECK_OK(datapath_set_port(s->dp, local_port(lfd), mode));
        CHECK_OK(pair_make(lfd, "127.0.0.1", &c, &srv));
        if (s)
                CHECK_OK(stats(s, &a));
        sent = write_until_blocked(c, 256 * MiB, 1500, 77);
        CHECK(sent > 0);
        *ret_sent = sent;
        *ret_rmem = sock_rmem(srv);
        Flow rd = { .name = "paused", .rfd = srv, .seed = 77, .read_goal = (size_t) sent };
        CHECK_OK(pump(&rd, 1, IO_TIMEOUT_MS));
        if (s) {
                CHECK_OK(stats(s, &b));
                CHECK_EQ_U64(b.passed_bound - a.passed_bound, 1);
                CHECK(b.redirected_bytes > a.redirected_bytes);
        }
        untrack_close(c);
        untrack_close(srv);
        return 0;
}

static int test_paused_receiver_bounded(void)
{
        struct setup s = {};
        ssize_t plain_sent = 0, sent = 0;
        uint32_t plain_rmem = 0, rmem = 0;
        int r = -1;

        if (paused_receiver(NULL, 0, &plain_sent, &plain_rmem) < 0 || setup_untrusted(&s) < 0 ||
            paused_receiver(&s, PORT_MODE_TRUSTED, &sent, &rmem) < 0)
                goto out;
        printf("    paused receiver: plain TCP took %zd bytes (receiver rmem %u), the fastpath %zd (rmem %u, "
               "bound %u)\n", plain_sent, plain_rmem, sent, rmem, DATAPATH_RECEIVE_BOUND);
        /* at most the bound more than plain TCP, and the receiver's memory within it plus TCP's */
        if ((size_t) sent > (size_t) plain_sent + DATAPATH_RECEIVE_BOUND + 1 * MiB ||
            rmem > plain_rmem + DATAPATH_RECEIVE_BOUND + 2 * MiB) {
                fprintf(stderr, "    not bounded\n");
                goto out;
        }
        r = 0;
out:
        setup_done(&s);
        return r;
}

/* The safety net: a trusted receiver read with splice() is seen, counted and reported; sends
 * to it pass from then on, so every byte reaches the splicer. */
static uint32_t spliced_pid;
static uint16_t spliced_port;

static void on_spliced(Datapath *d, uint32_t pid, const char *comm, uint16_t port, void *userdata)
{
        spliced_pid = pid;
        spliced_port = port;
}

static int test_trusted_splice_detected(void)
{
        struct setup s = {};
        DatapathStatistics a, b;
        int lfd, c, srv, r = -1;

        if (setup_untrusted(&s) < 0)
                goto out;
        if (stats(&s, &a) < 0)
                goto out;
        /* a kprobe, or the raw tracepoint every kernel with BPF ring buffers has */
        if (a.splice_detection != SPLICE_DETECTION_ON) {
                fprintf(stderr, "    splice detection is not running (state %d)\n", (int) a.splice_detection);
                goto out;
        }
        datapath_set_splice_handler(s.dp, on_spliced, NULL);
        lfd = listen_on("127.0.0.1", 0, -1);
        if (lfd < 0 || datapath_set_port(s.dp, local_port(lfd), PORT_MODE_TRUSTED) < 0 ||
            pair_make(lfd, "127.0.0.1", &c, &srv) < 0)
                goto out;
        /* the first splice, before any data: nothing is queued where splice cannot see it */
        {
                _cleanup_close_ int p0 = -EBADF, p1 = -EBADF;
                int p[2];

                if (pipe2(p, O_CLOEXEC) < 0)
                        goto out;
                p0 = p[0];
                p1 = p[1];
                if (splice(srv, NULL, p1, NULL, 1, SPLICE_F_NONBLOCK) >= 0 || errno != EAGAIN)
                        goto out;
        }
        if (splice_receive(c, srv, 64 * KiB, 1 * MiB, 9) < 0 || stats(&s, &b) < 0)
                goto out;
        datapath_splice_process(s.dp);
        if (b.spliced - a.spliced != 1 || b.passed_spliced - a.passed_spliced != 1 ||
            spliced_pid != (uint32_t) getpid() || spliced_port != local_port(lfd)) {
                fprintf(stderr, "    spliced %llu, passed %llu, reported pid %u port %u\n",
                        (unsigned long long) (b.spliced - a.spliced),
                        (unsigned long long) (b.passed_spliced - a.passed_spliced), spliced_pid, spliced_port);
                goto out;
        }
        r = 0;
out:
        setup_done(&s);
        return r;
}

/* Not a check (not in the meson suite): what the redirect gains per direction, run by name.
 * Bulk one way in 64 KiB writes, and 1-byte ping-pong, redirected into a declared receiver
 * against plain TCP on the same machine. */
static double measure_bulk(int c, int srv, size_t total)
{
        Flow f = { .name = "bulk", .wfd = c, .rfd = srv, .seed = 5, .wsize = 64 * KiB, .send_goal = total,
                   .read_goal = total };
        uint64_t t0 = now_ms();

        if (pump(&f, 1, 60000) < 0)
                return -1;
        return (double) total / 1048576.0 / ((double) (now_ms() - t0 + 1) / 1000.0);
}

static double measure_pingpong(int c, int srv, unsigned n)
{
        uint64_t t0 = now_ms();
        char b = 'x';

        for (unsigned i = 0; i < n; i++) {
                if (write(c, &b, 1) != 1 || wait_fd(srv, POLLIN, 1000) < 0 || read(srv, &b, 1) != 1 ||
                    write(srv, &b, 1) != 1 || wait_fd(c, POLLIN, 1000) < 0 || read(c, &b, 1) != 1)
                        return -1;
        }
        return (double) n / ((double) (now_ms() - t0 + 1) / 1000.0);
}

static int test_measure_redirect_vs_tcp(void)
{
        struct setup s = {};
        int lfd, c, srv, r = -1;

        if (setup_untrusted(&s) < 0)
                goto out;
        for (int trusted = 0; trusted < 2; trusted++) {
                lfd = listen_on("127.0.0.1", 0, -1);
                if (lfd < 0 || datapath_set_port(s.dp, local_port(lfd), trusted ? PORT_MODE_TRUSTED :
                                                 PORT_MODE_FASTPATH) < 0 ||
                    trust_test_cgroup(&s, trusted) < 0 || pair_make(lfd, "127.0.0.1", &c, &srv) < 0)
                        goto out;
                printf("    %s: bulk 64K writes %.0f MiB/s, ping-pong %.0f round trips/s\n",
                       trusted ? "redirected" : "plain TCP", measure_bulk(c, srv, 512 * MiB),
                       measure_pingpong(c, srv, 20000));
        }
        r = 0;
out:
        setup_done(&s);
        return r;
}

/* ---- runner ---- */

static const struct {
        const char *name;
        int (*fn)(void);
} tests[] = {
        { "echo_ipv4", test_echo_ipv4 },
        { "echo_ipv6", test_echo_ipv6 },
        { "echo_dualstack_v4_client", test_echo_dualstack_v4_client },
        { "half_close", test_half_close },
        { "many_connections", test_many_connections },
        { "unmanaged_port_not_tracked", test_unmanaged_port_not_tracked },
        { "intercept_only_port_not_tracked", test_intercept_only_port_not_tracked },
        { "switch_off_on_mid_stream", test_switch_off_on_mid_stream },
        { "pass_large_writes_mid_stream", test_pass_large_writes_mid_stream },
        { "peer_outside_cgroup", test_peer_outside_cgroup },
        { "peer_in_other_netns", test_peer_in_other_netns },
        { "same_tuple_other_netns", test_same_tuple_other_netns },
        { "bypass_mark_skipped", test_bypass_mark_skipped },
        { "sockhash_full_counted", test_sockhash_full_counted },
        { "restart_adopts_pins", test_restart_adopts_pins },
        { "restart_reconfigured", test_restart_reconfigured },
        { "unpin_leaves_nothing", test_unpin_leaves_nothing },
        { "bad_config_changes_nothing", test_bad_config_changes_nothing },
        { "default_app_not_receiver", test_default_app_not_receiver },
        { "splice_proxy_default", test_splice_proxy_default },
        { "splice_receiver_default", test_splice_receiver_default },
        { "relay_receiver", test_relay_receiver },
        { "trusted_port_receiver", test_trusted_port_receiver },
        { "paused_receiver_bounded", test_paused_receiver_bounded },
        { "trusted_splice_detected", test_trusted_splice_detected },
        { "measure_redirect_vs_tcp", test_measure_redirect_vs_tcp },
};

static void rm_pins(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[8400];

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (de->d_type == DT_DIR)
                        rm_pins(path);
                else
                        (void) unlink(path);
        }
        closedir(d);
        (void) rmdir(dir);
}

/* Runs on every exit path: whatever a failed test left pinned or attached goes with us. */
static void cleanup(void)
{
        close_tracked();
        if (pin_base[0])
                rm_pins(pin_base);
        if (cgroup_orig[0])
                (void) cgroup_enter(cgroup_orig);
        if (cgroup_dir[0])
                (void) rmdir(cgroup_dir);
        if (cgroup_other[0])
                (void) rmdir(cgroup_other);
}

static void on_signal(int sig)
{
        /* cleanup() runs from exit(); a hung test is stopped by the alarm. */
        if (sig == SIGALRM)
                (void) !write(STDERR_FILENO, "FAIL: global timeout\n", 21);
        exit(sig == SIGALRM ? EXIT_FAILURE : 128 + sig);
}

static int environment_init(void)
{
        _cleanup_free_ char *root = NULL, *self = NULL;
        int r;

        r = cgroup2_root_find(&root);
        if (r < 0)
                return r;
        if (strlen(root) >= sizeof(cgroup_root))
                return -ENAMETOOLONG;
        snprintf(cgroup_root, sizeof(cgroup_root), "%s", root);
        r = cgroup_self_path(cgroup_root, &self);
        if (r < 0 && r != -ENOENT)
                return r;
        if (self)
                snprintf(cgroup_orig, sizeof(cgroup_orig), "%s", self);

        snprintf(cgroup_dir, sizeof(cgroup_dir), "%s/skfp-fastpath-%d", cgroup_root, getpid());
        snprintf(cgroup_other, sizeof(cgroup_other), "%s/skfp-fastpath-%d-other", cgroup_root, getpid());
        home_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (home_netns < 0)
                return -errno;
        if (mkdir(cgroup_dir, 0755) < 0 || mkdir(cgroup_other, 0755) < 0)
                return -errno;
        if (cgroup_enter(cgroup_dir) < 0)
                return -errno;

        if (!path_is_fs_type("/sys/fs/bpf", BPF_FS_MAGIC))
                (void) mkdir("/sys/fs/bpf", 0700);
        snprintf(pin_base, sizeof(pin_base), "/sys/fs/bpf/skfastpath/skfp-fastpath-%d", getpid());
        return 0;
}

int main(int argc, char *argv[])
{
        int passed = 0, failed = 0, r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (geteuid() != 0) {
                printf("SKIP: needs root (BPF, cgroups, namespaces)\n");
                return 77;
        }
        if (access("/sys/kernel/btf/vmlinux", F_OK) < 0) {
                printf("SKIP: the kernel has no BTF\n");
                return 77;
        }
        log_set_prefix(false);
        log_set_max_level(getenv("SKFP_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        libbpf_set_print(bpf_libbpf_print);

        atexit(cleanup);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGALRM, on_signal);
        signal(SIGPIPE, SIG_IGN);

        r = environment_init();
        if (r == -ENOENT) {
                printf("SKIP: no cgroup2 mount\n");
                return 77;
        }
        if (r < 0) {
                printf("FAIL: cannot set up the test cgroup: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }

        pattern = malloc(PATTERN_PERIOD + MAX_WRITE);
        if (!pattern)
                return EXIT_FAILURE;
        for (size_t i = 0; i < PATTERN_PERIOD + MAX_WRITE; i++) {
                uint32_t x = (uint32_t) (i % PATTERN_PERIOD) * 2654435761u;
                pattern[i] = (uint8_t) (x >> 24 ^ x >> 11);
        }

        for (size_t i = 0; i < ELEMENTSOF(tests); i++) {
                bool selected = argc <= 1;
                uint64_t t0;

                for (int j = 1; j < argc; j++)
                        if (streq(argv[j], tests[i].name))
                                selected = true;
                if (!selected)
                        continue;

                alarm(120);
                t0 = now_ms();
                r = tests[i].fn();
                alarm(0);
                close_tracked();
                /* A failed test may have left us elsewhere. */
                if (netns_enter(home_netns) < 0 || cgroup_enter(cgroup_dir) < 0) {
                        printf("FAIL: cannot return to the test's namespace and cgroup\n");
                        return EXIT_FAILURE;
                }
                if (r < 0)
                        failed++;
                else
                        passed++;
                printf("%s %s (%llu ms)\n", r < 0 ? "FAIL" : "ok  ", tests[i].name,
                       (unsigned long long) (now_ms() - t0));
        }
        for (int j = 1; j < argc; j++) {
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(tests); i++)
                        known = known || streq(argv[j], tests[i].name);
                if (!known) {
                        printf("FAIL unknown test %s\n", argv[j]);
                        failed++;
                }
        }
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
