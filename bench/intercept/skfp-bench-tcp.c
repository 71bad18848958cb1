/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TCP ping-pong and bulk for bench/intercept.
 *
 *   skfp-bench-tcp server PORT SECONDS          dual-stack [::]:PORT, one process per connection
 *   skfp-bench-tcp pingpong HOST PORT SIZE SECONDS
 *           SIZE bytes there and back, again and again; prints transactions per second
 *   skfp-bench-tcp bulk HOST PORT SIZE SECONDS
 *           writes of SIZE bytes one way; prints MiB/s (until the server confirmed the count)
 *
 * Protocol: the client sends 'P' or 'B' and SIZE as a 4-byte big-endian number. Ping-pong: the
 * server echoes SIZE-byte messages until EOF. Bulk: the server reads until EOF, then answers the
 * byte count (8 bytes, big-endian). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
        fprintf(stderr, "%s: %s\n", what, strerror(errno));
        exit(1);
}

/* Reads exactly n bytes; EAGAIN (a fastpath socket woken without data) is retried. */
static int read_full(int fd, void *buf, size_t n)
{
        size_t got = 0;

        while (got < n) {
                ssize_t r = recv(fd, (char *) buf + got, n - got, 0);

                if (r == 0)
                        return -1;
                if (r < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -1;
                }
                got += (size_t) r;
        }
        return 0;
}

/* A fastpath sender whose peer's receive queue is full gets ENOMEM, not a blocking send (see
 * HAZARDS in skfastpathd(8)): back off and retry as the relay does, and say how often. */
static unsigned long enomem_retries;

static int write_full(int fd, const void *buf, size_t n)
{
        size_t done = 0;

        while (done < n) {
                ssize_t w = send(fd, (const char *) buf + done, n - done, MSG_NOSIGNAL);

                if (w < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        if (errno == ENOMEM) {
                                enomem_retries++;
                                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
                                continue;
                        }
                        return -1;
                }
                done += (size_t) w;
        }
        return 0;
}

static void serve(int fd)
{
        unsigned char hdr[5];
        uint32_t size;
        char *buf;

        if (read_full(fd, hdr, sizeof(hdr)) < 0)
                _exit(1);
        size = (uint32_t) hdr[1] << 24 | (uint32_t) hdr[2] << 16 | (uint32_t) hdr[3] << 8 | hdr[4];
        if (size == 0 || size > 64 << 20)
                _exit(1);
        buf = malloc(size);
        if (!buf)
                _exit(1);
        if (hdr[0] == 'P') {
                while (read_full(fd, buf, size) == 0)
                        if (write_full(fd, buf, size) < 0)
                                break;
        } else {
                uint64_t total = 0;
                unsigned char ack[8];
                ssize_t r;

                for (;;) {
                        r = recv(fd, buf, size, 0);
                        if (r == 0)
                                break;
                        if (r < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                _exit(1);
                        }
                        total += (uint64_t) r;
                }
                for (int i = 0; i < 8; i++)
                        ack[i] = (unsigned char) (total >> (56 - 8 * i));
                (void) write_full(fd, ack, sizeof(ack));
        }
        _exit(0);
}

static int server(int port, int seconds)
{
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port),
                                     .sin6_addr = IN6ADDR_ANY_INIT };
        int fd, one = 1, zero = 0;
        double end = now() + seconds;

        signal(SIGCHLD, SIG_IGN);  /* no zombies */
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket");
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, (struct sockaddr *) &sin6, sizeof(sin6)) < 0 || listen(fd, 128) < 0)
                die("bind/listen");
        printf("ready\n");
        fflush(stdout);
        while (now() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int c;

                if (poll(&p, 1, 500) <= 0)
                        continue;
                c = accept(fd, NULL, NULL);
                if (c < 0)
                        continue;
                (void) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (fork() == 0) {
                        close(fd);
                        alarm(120);
                        serve(c);
                }
                close(c);
        }
        return 0;
}

static int connect_to(const char *host, const char *port)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
        int fd, one = 1;

        if (getaddrinfo(host, port, &hints, &ai) != 0) {
                fprintf(stderr, "bad address %s\n", host);
                exit(2);
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket");
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
                die("connect");
        freeaddrinfo(ai);
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static int client(const char *mode, const char *host, const char *port, uint32_t size, double seconds)
{
        unsigned char hdr[5] = { mode[0] == 'p' ? 'P' : 'B', (unsigned char) (size >> 24),
                                 (unsigned char) (size >> 16), (unsigned char) (size >> 8),
                                 (unsigned char) size };
        int fd = connect_to(host, port);
        char *buf = malloc(size);
        double t0, t1;

        if (!buf)
                die("malloc");
        memset(buf, 'x', size);
        if (write_full(fd, hdr, sizeof(hdr)) < 0)
                die("send");

        if (hdr[0] == 'P') {
                uint64_t n = 0;

                /* one round trip before the clock starts: connection and relay set up */
                if (write_full(fd, buf, size) < 0 || read_full(fd, buf, size) < 0)
                        die("ping-pong");
                t0 = now();
                do {
                        for (int i = 0; i < 64; i++) {
                                if (write_full(fd, buf, size) < 0 || read_full(fd, buf, size) < 0)
                                        die("ping-pong");
                                n++;
                        }
                        t1 = now();
                } while (t1 - t0 < seconds);
                printf("%.1f\n", (double) n / (t1 - t0));
        } else {
                uint64_t sent = 0, acked = 0;
                unsigned char ack[8];

                t0 = now();
                do {
                        for (int i = 0; i < 16; i++) {
                                if (write_full(fd, buf, size) < 0)
                                        die("bulk");
                                sent += size;
                        }
                } while (now() - t0 < seconds);
                shutdown(fd, SHUT_WR);
                if (read_full(fd, ack, sizeof(ack)) < 0)
                        die("bulk ack");
                t1 = now();
                for (int i = 0; i < 8; i++)
                        acked = acked << 8 | ack[i];
                if (acked != sent) {
                        fprintf(stderr, "bulk: sent %llu bytes, server counted %llu\n",
                                (unsigned long long) sent, (unsigned long long) acked);
                        return 1;
                }
                printf("%.1f\n", (double) sent / (t1 - t0) / (1024 * 1024));
        }
        if (enomem_retries > 0)
                fprintf(stderr, "%s: send() failed with ENOMEM %lu times (retried after 1 ms)\n", mode,
                        enomem_retries);
        close(fd);
        free(buf);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 4 && strcmp(argv[1], "server") == 0)
                return server(atoi(argv[2]), atoi(argv[3]));
        if (argc == 6 && (strcmp(argv[1], "pingpong") == 0 || strcmp(argv[1], "bulk") == 0))
                return client(argv[1], argv[2], argv[3], (uint32_t) strtoul(argv[4], NULL, 0), atof(argv[5]));
        fprintf(stderr, "usage: %s server PORT SECONDS | pingpong|bulk HOST PORT SIZE SECONDS\n", argv[0]);
        return 2;
}
