/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test endpoints for the reliability tests (restart, crash, stop with connections open). Every
 * byte is checked: clients send a pattern that is a function of the stream offset and compare
 * the echo with it. Every mode is bounded in time.
 *
 *   skfp-stream serve PORT                  echo server on [::]:PORT (dual stack), a thread per
 *                                           connection; prints "ready"; exits after 900 s
 *   skfp-stream stream HOST PORT SECONDS [PROGRESS_FILE [STOP_FILE]]
 *                                           one connection streaming both ways (~4 MB/s) for
 *                                           SECONDS or until STOP_FILE exists, then half-close
 *                                           and read the echo to its end; every 100 ms
 *                                           PROGRESS_FILE gets "SENT RECEIVED"; prints
 *                                           "ok sent=N received=N ..." (exit 0), or "eof" after
 *                                           an exact prefix when the peer closed first (exit
 *                                           3), or FAIL (exit 1)
 *   skfp-stream hold HOST PORT COUNT READY_FILE GO_FILE SECONDS
 *                                           COUNT connections, each echoes a first message;
 *                                           then READY_FILE is created and they wait for
 *                                           GO_FILE (at most SECONDS), then each echoes a
 *                                           second message and ends with half-close and EOF;
 *                                           prints "ok kept=COUNT" or "FAIL kept=K of COUNT"
 *   skfp-stream burst HOST PORT READY_FILE GO_FILE SECONDS
 *                                           send without reading the echo until every buffer on
 *                                           the way is full (at most 32 MiB), create READY_FILE,
 *                                           wait for GO_FILE, then read the whole echo: "ok burst
 *                                           sent=N ..."
 *   skfp-stream wait-eof HOST PORT SECONDS [READY_FILE]
 *                                           echo one message, create READY_FILE, then wait for
 *                                           the peer's end: "eof" (read returned 0, exit 0),
 *                                           "reset" (exit 2), "timeout" (exit 1)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384
#define MAX_IN_FLIGHT (256 * 1024)
#define RATE (4 * 1024 * 1024)          /* bytes per second, each way */
#define SERVE_LIFETIME 900
#define IO_TIMEOUT_MS 20000
#define BURST_MAX (32 * 1024 * 1024)

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* The byte at stream offset i: splitmix64 of the 8-byte word index, so any offset can be checked
 * on its own. */
static uint8_t pattern(uint64_t seed, uint64_t i)
{
        uint64_t z = seed + (i / 8) * 0x9e3779b97f4a7c15ULL;

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return (uint8_t) (z >> (8 * (i % 8)));
}

static void fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t n)
{
        for (size_t k = 0; k < n; k++)
                buf[k] = pattern(seed, off + k);
}

/* Offset of the first mismatch, or -1. */
static int64_t check(uint64_t seed, uint64_t off, const uint8_t *buf, size_t n)
{
        for (size_t k = 0; k < n; k++)
                if (buf[k] != pattern(seed, off + k))
                        return (int64_t) (off + k);
        return -1;
}

static bool file_exists(const char *p)
{
        return p && access(p, F_OK) == 0;
}

static void touch(const char *p)
{
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

        if (fd >= 0)
                close(fd);
}

static int connect_to(const char *host, const char *port)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
        int fd, r;

        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0) {
                fprintf(stderr, "FAIL bad address %s port %s: %s\n", host, port, gai_strerror(r));
                return -1;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                fprintf(stderr, "FAIL connect %s port %s: %s\n", host, port, strerror(errno));
                if (fd >= 0)
                        close(fd);
                fd = -1;
        }
        freeaddrinfo(ai);
        return fd;
}

static int local_port(int fd)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                return 0;
        return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port :
                                               ((struct sockaddr_in6 *) &ss)->sin6_port);
}

static void set_timeouts(int fd)
{
        struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- serve ---- */

static void *echo_thread(void *arg)
{
        int fd = (int) (intptr_t) arg;
        uint8_t buf[CHUNK];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;   /* a fastpath socket may wake without data */
                if (n <= 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(fd, buf + off, (size_t) (n - off));

                        if (w < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                goto out;
                        }
                        off += w;
                }
        }
        (void) shutdown(fd, SHUT_WR);
out:
        close(fd);
        return NULL;
}

static int serve(const char *port)
{
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        int one = 1, zero = 0, fd;

        sin6.sin6_port = htons((uint16_t) atoi(port));
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
            bind(fd, (struct sockaddr *) &sin6, sizeof(sin6)) < 0 || listen(fd, 1024) < 0) {
                fprintf(stderr, "FAIL listen on port %s: %s\n", port, strerror(errno));
                return 1;
        }
        alarm(SERVE_LIFETIME);
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                pthread_attr_t attr;
                pthread_t t;
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "FAIL accept: %s\n", strerror(errno));
                        return 1;
                }
                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                pthread_attr_setstacksize(&attr, 128 * 1024);
                if (pthread_create(&t, &attr, echo_thread, (void *) (intptr_t) c) != 0)
                        close(c);
                pthread_attr_destroy(&attr);
        }
}

/* ---- stream ---- */

static void write_progress(const char *path, uint64_t sent, uint64_t received)
{
        char tmp[4096];
        FILE *f;

        if (!path)
                return;
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "we");
        if (!f)
                return;
        fprintf(f, "%llu %llu\n", (unsigned long long) sent, (unsigned long long) received);
        fclose(f);
        (void) rename(tmp, path);
}

static int stream(const char *host, const char *port, int seconds, const char *progress, const char *stop)
{
        uint64_t seed = (uint64_t) getpid() * 0x100000001b3ULL, sent = 0, received = 0;
        uint64_t start = now_ms(), last_progress = 0, last_rx = now_ms();
        bool shut = false;
        uint8_t buf[CHUNK];
        int fd, lport;

        fd = connect_to(host, port);
        if (fd < 0)
                return 1;
        lport = local_port(fd);
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

        for (;;) {
                uint64_t t = now_ms();
                bool want_send = !shut && sent - received < MAX_IN_FLIGHT &&
                                 sent < (t - start + 100) * (RATE / 1000);
                struct pollfd p = { .fd = fd, .events = POLLIN | (want_send ? POLLOUT : 0) };

                if (!shut && ((int) ((t - start) / 1000) >= seconds || file_exists(stop))) {
                        if (shutdown(fd, SHUT_WR) < 0) {
                                printf("FAIL shutdown: %s\n", strerror(errno));
                                return 1;
                        }
                        shut = true;
                        continue;
                }
                if (t - last_progress >= 100) {
                        write_progress(progress, sent, received);
                        last_progress = t;
                }
                if (t - last_rx > IO_TIMEOUT_MS) {
                        printf("FAIL stalled: sent=%llu received=%llu local_port=%d\n",
                               (unsigned long long) sent, (unsigned long long) received, lport);
                        return 1;
                }
                if (poll(&p, 1, 10) < 0 && errno != EINTR) {
                        printf("FAIL poll: %s\n", strerror(errno));
                        return 1;
                }
                if (p.revents & POLLOUT) {
                        size_t n = CHUNK;
                        ssize_t w;

                        fill(seed, sent, buf, n);
                        w = send(fd, buf, n, MSG_NOSIGNAL);
                        if (w < 0 && errno != EAGAIN && errno != EINTR) {
                                printf("%s send after sent=%llu received=%llu: %s local_port=%d\n",
                                       errno == ECONNRESET || errno == EPIPE ? "reset" : "FAIL",
                                       (unsigned long long) sent, (unsigned long long) received,
                                       strerror(errno), lport);
                                return errno == ECONNRESET || errno == EPIPE ? 2 : 1;
                        }
                        if (w > 0)
                                sent += (uint64_t) w;
                }
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = recv(fd, buf, sizeof(buf), 0);
                        int64_t bad;

                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        continue;
                                printf("%s after sent=%llu received=%llu: %s local_port=%d\n",
                                       errno == ECONNRESET ? "reset" : "FAIL", (unsigned long long) sent,
                                       (unsigned long long) received, strerror(errno), lport);
                                return errno == ECONNRESET ? 2 : 1;
                        }
                        if (n == 0) {
                                write_progress(progress, sent, received);
                                if (shut && received == sent) {
                                        printf("ok sent=%llu received=%llu local_port=%d\n",
                                               (unsigned long long) sent, (unsigned long long) received, lport);
                                        return 0;
                                }
                                if (received > sent) {
                                        printf("FAIL received %llu bytes, more than the %llu sent\n",
                                               (unsigned long long) received, (unsigned long long) sent);
                                        return 1;
                                }
                                printf("eof after sent=%llu received=%llu (an exact prefix) local_port=%d\n",
                                       (unsigned long long) sent, (unsigned long long) received, lport);
                                return 3;
                        }
                        bad = check(seed, received, buf, (size_t) n);
                        if (bad >= 0 || received + (uint64_t) n > sent) {
                                printf("FAIL corrupt echo at offset %lld (sent=%llu) local_port=%d\n",
                                       (long long) bad, (unsigned long long) sent, lport);
                                return 1;
                        }
                        received += (uint64_t) n;
                        last_rx = now_ms();
                }
        }
}

/* ---- hold and wait-eof ---- */

/* Sends n pattern bytes from offset off and reads their echo back (blocking, with timeouts). */
static int echo_exchange(int fd, uint64_t seed, uint64_t off, size_t n)
{
        uint64_t deadline = now_ms() + IO_TIMEOUT_MS;
        uint8_t out[1024], in[1024];
        size_t got = 0;

        if (n > sizeof(out))
                n = sizeof(out);
        fill(seed, off, out, n);
        if (send(fd, out, n, MSG_NOSIGNAL) != (ssize_t) n)
                return -1;
        while (got < n) {
                ssize_t k = recv(fd, in + got, n - got, 0);

                if (k < 0 && (errno == EINTR || errno == EAGAIN) && now_ms() < deadline)
                        continue;
                if (k <= 0)
                        return -1;
                got += (size_t) k;
        }
        return check(seed, off, in, n) < 0 ? 0 : -1;
}

static int hold(const char *host, const char *port, int count, const char *ready, const char *go, int seconds)
{
        uint64_t seed = 0x5eed0000ULL + (uint64_t) getpid();
        int *fds = calloc((size_t) count, sizeof(int)), kept = 0;
        uint64_t deadline;

        if (!fds)
                return 1;
        for (int i = 0; i < count; i++) {
                fds[i] = connect_to(host, port);
                if (fds[i] < 0 || (set_timeouts(fds[i]), echo_exchange(fds[i], seed + (uint64_t) i, 0, 100)) < 0) {
                        printf("FAIL connection %d: first echo\n", i);
                        return 1;
                }
        }
        touch(ready);
        deadline = now_ms() + (uint64_t) seconds * 1000;
        while (!file_exists(go) && now_ms() < deadline)
                usleep(20000);
        deadline = now_ms();
        for (int i = 0; i < count; i++) {
                uint8_t b;
                ssize_t n;

                if (echo_exchange(fds[i], seed + (uint64_t) i, 100, 200) < 0) {
                        printf("     connection %d (local port %d): second echo failed: %s\n", i,
                               local_port(fds[i]), strerror(errno));
                        continue;
                }
                if (shutdown(fds[i], SHUT_WR) < 0) {
                        printf("     connection %d: shutdown: %s\n", i, strerror(errno));
                        continue;
                }
                /* a fastpath socket may wake without data (EAGAIN) after its FIN is acked */
                do
                        n = recv(fds[i], &b, 1, 0);
                while (n < 0 && (errno == EAGAIN || errno == EINTR) && now_ms() < deadline + IO_TIMEOUT_MS);
                if (n != 0) {
                        printf("     connection %d: no clean end (%zd: %s)\n", i, n, n < 0 ? strerror(errno) : "data");
                        continue;
                }
                kept++;
        }
        if (kept != count) {
                printf("FAIL kept=%d of %d\n", kept, count);
                return 1;
        }
        printf("ok kept=%d bytes_checked=%d\n", kept, kept * 600);
        return 0;
}

/* Sends until every buffer on the way is full (nobody reads the echo), so that the relay holds
 * unwritten bytes in both directions; then READY_FILE, wait for GO_FILE, and read it all back. */
static int burst(const char *host, const char *port, const char *ready, const char *go, int seconds)
{
        uint64_t seed = 0xb0000000ULL + (uint64_t) getpid(), sent = 0, received = 0, idle_since;
        uint64_t deadline = now_ms() + (uint64_t) seconds * 1000;
        uint8_t buf[CHUNK];
        bool shut = false;
        int fd;

        fd = connect_to(host, port);
        if (fd < 0)
                return 1;
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        idle_since = now_ms();
        /* bounded: a fastpath peer that does not read takes far more than TCP's buffers (up to
         * the system's TCP memory limit, skfastpathd(8)): never run this against one unbounded */
        while (now_ms() - idle_since < 500 && now_ms() < deadline && sent < BURST_MAX) {
                ssize_t w;

                fill(seed, sent, buf, sizeof(buf));
                w = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
                if (w > 0) {
                        sent += (uint64_t) w;
                        idle_since = now_ms();
                } else if (w < 0 && errno != EAGAIN && errno != EINTR && errno != ENOMEM) {
                        /* ENOMEM: a fastpath socket whose peer does not read (skfastpathd(8)) */
                        printf("FAIL send: %s\n", strerror(errno));
                        return 1;
                } else
                        usleep(10000);
        }
        touch(ready);
        while (!file_exists(go) && now_ms() < deadline)
                usleep(20000);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;
                int64_t bad;

                if (received == sent && !shut) {
                        (void) shutdown(fd, SHUT_WR);
                        shut = true;
                }
                if (now_ms() > deadline + IO_TIMEOUT_MS) {
                        printf("FAIL stalled at received=%llu of sent=%llu\n", (unsigned long long) received,
                               (unsigned long long) sent);
                        return 1;
                }
                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n < 0) {
                        printf("%s at received=%llu: %s\n", errno == ECONNRESET ? "reset" : "FAIL",
                               (unsigned long long) received, strerror(errno));
                        return errno == ECONNRESET ? 2 : 1;
                }
                if (n == 0) {
                        if (received != sent) {
                                printf("FAIL eof at received=%llu of sent=%llu\n", (unsigned long long) received,
                                       (unsigned long long) sent);
                                return 1;
                        }
                        printf("ok burst sent=%llu received=%llu\n", (unsigned long long) sent,
                               (unsigned long long) received);
                        return 0;
                }
                bad = check(seed, received, buf, (size_t) n);
                if (bad >= 0 || received + (uint64_t) n > sent) {
                        printf("FAIL corrupt echo at offset %lld\n", (long long) bad);
                        return 1;
                }
                received += (uint64_t) n;
        }
}

static int wait_eof(const char *host, const char *port, int seconds, const char *ready)
{
        uint64_t seed = 0xe0f0000ULL + (uint64_t) getpid(), deadline;
        uint8_t b;
        int fd;

        fd = connect_to(host, port);
        if (fd < 0)
                return 1;
        set_timeouts(fd);
        if (echo_exchange(fd, seed, 0, 500) < 0) {
                printf("FAIL first echo: %s\n", strerror(errno));
                return 1;
        }
        if (ready)
                touch(ready);
        deadline = now_ms() + (uint64_t) seconds * 1000;
        while (now_ms() < deadline) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = recv(fd, &b, 1, MSG_DONTWAIT);
                if (n == 0) {
                        printf("eof local_port=%d\n", local_port(fd));
                        return 0;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (n < 0) {
                        printf("%s: %s\n", errno == ECONNRESET ? "reset" : "error", strerror(errno));
                        return 2;
                }
                printf("FAIL unexpected data\n");
                return 1;
        }
        printf("timeout\n");
        return 1;
}

int main(int argc, char *argv[])
{
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 3 && strcmp(argv[1], "serve") == 0)
                return serve(argv[2]);
        if (argc >= 5 && strcmp(argv[1], "stream") == 0)
                return stream(argv[2], argv[3], atoi(argv[4]), argc > 5 ? argv[5] : NULL, argc > 6 ? argv[6] : NULL);
        if (argc >= 8 && strcmp(argv[1], "hold") == 0)
                return hold(argv[2], argv[3], atoi(argv[4]), argv[5], argv[6], atoi(argv[7]));
        if (argc >= 7 && strcmp(argv[1], "burst") == 0)
                return burst(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
        if (argc >= 5 && strcmp(argv[1], "wait-eof") == 0)
                return wait_eof(argv[2], argv[3], atoi(argv[4]), argc > 5 ? argv[5] : NULL);
        fprintf(stderr, "usage: see the comment at the top of skfp-stream.c\n");
        return 1;
}
