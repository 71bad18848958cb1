/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Upstream proxies (upstream.c): URL parsing with its named errors, the redacted and the full
 * form, the SOCKS5 and HTTP CONNECT handshakes fed byte strings, and the relay's connection state
 * machine (relay-connection.c) opening tunnels through scripted proxies over loopback TCP pairs:
 * byte-exact relaying after the handshake (also of bytes the destination sent right behind the
 * proxy's reply), and each failure class ending in a reset of the client and its counter. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "relay-connection.h"
#include "tests.h"
#include "upstream.h"
#include "util.h"

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static int set_nonblock(int fd)
{
        return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno : 0;
}

/* A connected loopback TCP pair, both ends non-blocking; -errno. */
static int tcp_pair(int *a, int *b)
{
        _cleanup_close_ int l = -EBADF, c = -EBADF, s = -EBADF;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);

        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, (struct sockaddr *) &sin, sizeof(sin)) < 0 || listen(l, 1) < 0 ||
            getsockname(l, (struct sockaddr *) &sin, &len) < 0)
                return -errno;
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *) &sin, sizeof(sin)) < 0)
                return -errno;
        s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (s < 0 || set_nonblock(c) < 0 || set_nonblock(s) < 0)
                return -errno;
        *a = TAKE_FD(c);
        *b = TAKE_FD(s);
        return 0;
}

/* ---- URL parsing ---- */

static void parse_ok(const char *url, UpstreamType type, const char *redacted, const char *full)
{
        Upstream u = {};
        const char *reason = NULL;
        _cleanup_free_ char *r = NULL, *f = NULL;

        ASSERT_EQ(upstream_parse(url, &u, &reason), 0);
        ASSERT_EQ(u.type, type);
        r = upstream_to_string(&u, true);
        f = upstream_to_string(&u, false);
        ASSERT_STREQ(r, redacted);
        ASSERT_STREQ(f, full);
        /* the full form parses back to the same upstream */
        {
                Upstream v = {};

                ASSERT_EQ(upstream_parse(f, &v, &reason), 0);
                ASSERT(upstream_equal(&u, &v));
                upstream_done(&v);
        }
        upstream_done(&u);
}

static void parse_bad(const char *url, const char *reason_part)
{
        Upstream u = {};
        const char *reason = NULL;

        ASSERT_EQ(upstream_parse(url, &u, &reason), -EINVAL);
        ASSERT(reason);
        if (!strstr(reason, reason_part)) {
                fprintf(stderr, "%s: reason '%s' lacks '%s'\n", url, reason, reason_part);
                ASSERT(false);
        }
        ASSERT_EQ(u.type, UPSTREAM_DIRECT);
        ASSERT(!u.user && !u.password);
}

static void test_parse(void)
{
        parse_ok("direct", UPSTREAM_DIRECT, "direct", "direct");
        parse_ok("socks5://127.0.0.1:1080", UPSTREAM_SOCKS5, "socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080");
        parse_ok("socks5://127.0.0.1:1080/", UPSTREAM_SOCKS5, "socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080");
        parse_ok("http://[::1]:3128", UPSTREAM_HTTP, "http://[::1]:3128", "http://[::1]:3128");
        parse_ok("http://[fd00::0:1]:8080", UPSTREAM_HTTP, "http://[fd00::1]:8080", "http://[fd00::1]:8080");
        parse_ok("socks5://alice:s3cret@10.0.0.1:1080", UPSTREAM_SOCKS5, "socks5://alice:***@10.0.0.1:1080",
                 "socks5://alice:s3cret@10.0.0.1:1080");
        /* escapes: a password with ':', '@' and '%' in it, and the last '@' separates */
        parse_ok("http://bob:p%3Aa%40ss%25@[::1]:3128", UPSTREAM_HTTP, "http://bob:***@[::1]:3128",
                 "http://bob:p%3Aa%40ss%25@[::1]:3128");
        /* non-ASCII bytes, raw or escaped, are written escaped (found by fuzz-upstream) */
        parse_ok("socks5://\xc3\xa9t\xc3\xa9:x@127.0.0.1:1", UPSTREAM_SOCKS5, "socks5://%C3%A9t%C3%A9:***@127.0.0.1:1",
                 "socks5://%C3%A9t%C3%A9:x@127.0.0.1:1");
        parse_ok("http://bob:x@y@127.0.0.1:3128", UPSTREAM_HTTP, "http://bob:***@127.0.0.1:3128",
                 "http://bob:x%40y@127.0.0.1:3128");
}

static void test_parse_errors(void)
{
        parse_bad("", "expected direct, socks5://");
        parse_bad("socks4://127.0.0.1:1080", "expected direct, socks5://");
        parse_bad("https://127.0.0.1:3128", "expected direct, socks5://");
        parse_bad("DIRECT", "expected direct");
        parse_bad("socks5://proxy.example:1080", "host names are not resolved");
        parse_bad("socks5://localhost:1080", "host names are not resolved");
        parse_bad("socks5://127.0.0.1", "port is missing");
        parse_bad("socks5://127.0.0.1:", "expected a port");
        parse_bad("socks5://127.0.0.1:0", "expected a port");
        parse_bad("socks5://127.0.0.1:65536", "expected a port");
        parse_bad("socks5://127.0.0.1:+80", "expected a port");
        parse_bad("socks5://127.0.0.1:1080x", "expected a port");
        parse_bad("socks5://::1:1080", "must be bracketed");
        parse_bad("socks5://[::1]", "must be bracketed and followed by :PORT");
        parse_bad("socks5://[::1:1080", "must be bracketed");
        parse_bad("socks5://[1.2.3.4]:1080", "not an IPv6 address");
        parse_bad("socks5://alice@127.0.0.1:1080", "USER:PASSWORD@");
        parse_bad("socks5://:pw@127.0.0.1:1080", "1 to 255 bytes");
        parse_bad("socks5://alice:@127.0.0.1:1080", "1 to 255 bytes");
        parse_bad("socks5://alice:%4@127.0.0.1:1080", "two hex digits");
        parse_bad("socks5://alice:%00x@127.0.0.1:1080", "NUL");
        parse_bad("socks5://127.0.0.1:1080/path", "path");
        parse_bad("socks5://127.0.0.1:1080?x", "path");
        parse_bad("socks5://127.0.0.1 :1080", "spaces");
        {
                char url[400];

                snprintf(url, sizeof(url), "socks5://%0300d:pw@127.0.0.1:1080", 0);
                parse_bad(url, "1 to 255 bytes");
        }
        {
                /* a bad URL leaves what was there */
                Upstream u = {};
                const char *reason;

                ASSERT_EQ(upstream_parse("socks5://a:b@127.0.0.1:1", &u, &reason), 0);
                ASSERT_EQ(upstream_parse("socks5://nope", &u, &reason), -EINVAL);
                ASSERT_EQ(u.type, UPSTREAM_SOCKS5);
                ASSERT_STREQ(u.user, "a");
                upstream_done(&u);
        }
        ASSERT_EQ(upstream_fallback_from_string("refuse"), UPSTREAM_FALLBACK_REFUSE);
        ASSERT_EQ(upstream_fallback_from_string("direct"), UPSTREAM_FALLBACK_DIRECT);
        ASSERT_EQ(upstream_fallback_from_string("yes"), -EINVAL);
}

/* ---- handshakes as byte strings ---- */

static struct sockaddr_storage dst4(const char *a, uint16_t port)
{
        struct sockaddr_storage ss = {};
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, a, &sin->sin_addr);
        return ss;
}

static struct sockaddr_storage dst6(const char *a, uint16_t port)
{
        struct sockaddr_storage ss = {};
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        inet_pton(AF_INET6, a, &sin6->sin6_addr);
        return ss;
}

static Upstream upstream_of(const char *url)
{
        Upstream u = {};
        const char *reason;

        if (upstream_parse(url, &u, &reason) < 0)
                abort();
        return u;
}

#define OUT_IS(h, bytes) \
        ASSERT((h)->out_len - (h)->out_sent == sizeof(bytes) - 1 && \
               memcmp((h)->out + (h)->out_sent, bytes, sizeof(bytes) - 1) == 0)
#define FEED(h, bytes, consumed) upstream_handshake_feed(h, (const uint8_t *) (bytes), sizeof(bytes) - 1, consumed)
#define HS_FAILED(f) (-(1 + (int) (f)))

static UpstreamHandshake h;     /* 5 KiB: not on the stack of every test */

static void test_socks5_no_auth(void)
{
        Upstream u = upstream_of("socks5://127.0.0.1:1080");
        struct sockaddr_storage d = dst4("192.0.2.7", 443);
        size_t n;

        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        OUT_IS(&h, "\x05\x01\x00");
        h.out_sent = h.out_len;
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        ASSERT_EQ(n, 2u);
        OUT_IS(&h, "\x05\x01\x00\x01\xc0\x00\x02\x07\x01\xbb");
        h.out_sent = h.out_len;
        /* the reply, fed in two pieces, then the destination's first bytes right behind it */
        ASSERT_EQ(FEED(&h, "\x05\x00\x00", &n), 0);
        ASSERT_EQ(n, 3u);
        ASSERT_EQ(FEED(&h, "\x01\x0a\x00\x00\x01\x9c\x40SSH-2.0", &n), 1);
        ASSERT_EQ(n, 7u);
        upstream_done(&u);

        /* an IPv6 destination, a domain-typed reply */
        u = upstream_of("socks5://[::1]:1080");
        d = dst6("2001:db8::5", 80);
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        h.out_sent = h.out_len;
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        OUT_IS(&h, "\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x50");
        ASSERT_EQ(FEED(&h, "\x05\x00\x00\x03\x03" "abc" "\x00\x50" "X", &n), 1);
        ASSERT_EQ(n, 10u);
        upstream_done(&u);
}

static void test_socks5_auth(void)
{
        Upstream u = upstream_of("socks5://alice:s3cret@127.0.0.1:1080");
        struct sockaddr_storage d = dst4("10.1.2.3", 80);
        size_t n;

        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        OUT_IS(&h, "\x05\x02\x00\x02");
        ASSERT_EQ(FEED(&h, "\x05\x02", &n), 0);
        OUT_IS(&h, "\x01\x05" "alice" "\x06" "s3cret");
        ASSERT_EQ(FEED(&h, "\x01\x00", &n), 0);
        OUT_IS(&h, "\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x50");
        ASSERT_EQ(FEED(&h, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", &n), 1);

        /* refused credentials */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x02", &n), 0);
        ASSERT_EQ(FEED(&h, "\x01\x01", &n), HS_FAILED(UPSTREAM_FAILURE_AUTH));
        /* the server accepts none of our methods */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\xff", &n), HS_FAILED(UPSTREAM_FAILURE_AUTH));
        upstream_done(&u);
}

static void test_socks5_failures(void)
{
        Upstream u = upstream_of("socks5://127.0.0.1:1080");
        struct sockaddr_storage d = dst4("10.1.2.3", 80);
        size_t n;

        /* asks for user/password, which we did not offer */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x02", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        /* GSSAPI */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x01", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        /* not SOCKS5 at all (an HTTP proxy answering) */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.1 400 Bad Request\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        ASSERT_EQ(n, 2u);
        /* connection refused by the destination (REP 5): known after two bytes */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        ASSERT_EQ(FEED(&h, "\x05\x05", &n), HS_FAILED(UPSTREAM_FAILURE_REFUSED));
        /* ruleset forbids (REP 2) */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        ASSERT_EQ(FEED(&h, "\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00", &n), HS_FAILED(UPSTREAM_FAILURE_REFUSED));
        /* an unknown reply code, a bad reserved byte, an unknown address type */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        ASSERT_EQ(FEED(&h, "\x05\x42", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00\x07\x01", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00\x00\x09", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        upstream_done(&u);
}

static void test_http_connect(void)
{
        Upstream u = upstream_of("http://127.0.0.1:3128");
        struct sockaddr_storage d = dst6("2001:db8::5", 443);
        size_t n;

        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        OUT_IS(&h, "CONNECT [2001:db8::5]:443 HTTP/1.1\r\nHost: [2001:db8::5]:443\r\n\r\n");
        ASSERT_EQ(FEED(&h, "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nSSH-2.0", &n), 1);
        ASSERT_EQ(n, strlen("HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n"));
        /* HTTP/1.0, one byte at a time */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        {
                const char *r = "HTTP/1.0 200 OK\r\n\r\n";

                for (size_t i = 0; r[i]; i++) {
                        int q = upstream_handshake_feed(&h, (const uint8_t *) r + i, 1, &n);

                        ASSERT_EQ(n, 1u);
                        ASSERT_EQ(q, r[i + 1] ? 0 : 1);
                }
        }
        upstream_done(&u);

        u = upstream_of("http://Aladdin:open%20sesame@127.0.0.1:3128");
        d = dst4("192.0.2.1", 80);
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        OUT_IS(&h, "CONNECT 192.0.2.1:80 HTTP/1.1\r\nHost: 192.0.2.1:80\r\n"
                   "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
        upstream_done(&u);
        u = upstream_of("http://ab:c@127.0.0.1:3128");
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT(memmem(h.out, h.out_len, "Basic YWI6Yw==\r\n", 16));
        upstream_done(&u);
}

static void test_http_failures(void)
{
        Upstream u = upstream_of("http://127.0.0.1:3128");
        struct sockaddr_storage d = dst4("10.1.2.3", 80);
        char big[UPSTREAM_HANDSHAKE_IN_MAX + 16];
        size_t n;

        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", &n),
                  HS_FAILED(UPSTREAM_FAILURE_AUTH));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.0 401 Unauthorized\r\n\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_AUTH));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.1 403 Forbidden\r\n\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_REFUSED));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.1 502 Bad Gateway\r\n\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_REFUSED));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.1 301 Moved\r\n\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/2 200\r\n\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "HTTP/1.1 2x0 OK\r\n\r\n", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        /* SOCKS5 bytes: wrong at the first byte */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        ASSERT_EQ(FEED(&h, "\x05\x00", &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        ASSERT_EQ(n, 1u);
        /* a header that never ends */
        ASSERT_EQ(upstream_handshake_init(&h, &u, &d), 0);
        memset(big, 'a', sizeof(big));
        memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
        ASSERT_EQ(upstream_handshake_feed(&h, (const uint8_t *) big, sizeof(big), &n), HS_FAILED(UPSTREAM_FAILURE_PROTOCOL));
        upstream_done(&u);
}

/* ---- the relay through scripted proxies ---- */

/* A scripted proxy: expects `expect` (exactly), then answers `reply`; the last step's reply may
 * carry the destination's first bytes. Then echoes until EOF. */
typedef struct ScriptStep {
        const char *expect;
        size_t n_expect;
        const char *reply;
        size_t n_reply;
} ScriptStep;

typedef struct Proxy {
        int fd;
        sd_event_source *io;
        const ScriptStep *steps;
        size_t n_steps, step;
        uint8_t in[1024];
        size_t n_in;
        bool bad, eof, close_after, echo;
} Proxy;

static int on_proxy(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Proxy *p = userdata;
        uint8_t buf[65536];
        ssize_t n;

        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) {
                if (n < 0 && errno == EAGAIN)
                        return 0;
                p->eof = true;
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        }
        if (p->step >= p->n_steps) {
                if (p->echo)
                        (void) send(fd, buf, (size_t) n, MSG_NOSIGNAL);
                return 0;
        }
        if (p->n_in + (size_t) n > sizeof(p->in)) {
                p->bad = true;
                return 0;
        }
        memcpy(p->in + p->n_in, buf, (size_t) n);
        p->n_in += (size_t) n;
        while (p->step < p->n_steps && p->n_in >= p->steps[p->step].n_expect) {
                const ScriptStep *st = &p->steps[p->step];

                if (memcmp(p->in, st->expect, st->n_expect) != 0)
                        p->bad = true;
                memmove(p->in, p->in + st->n_expect, p->n_in - st->n_expect);
                p->n_in -= st->n_expect;
                if (st->n_reply > 0 && send(fd, st->reply, st->n_reply, MSG_NOSIGNAL) != (ssize_t) st->n_reply)
                        p->bad = true;
                p->step++;
                if (p->step == p->n_steps && p->close_after) {
                        p->fd = safe_close(p->fd);
                        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
                }
        }
        return 0;
}

#define STEP(e, r) { e, sizeof(e) - 1, r, sizeof(r) - 1 }

typedef struct Tunnel {
        sd_event *event;
        RelayCore core;
        Proxy proxy;
        int app;                    /* the client application's socket */
} Tunnel;

static int tunnel_start(Tunnel *t, const char *url, const ScriptStep *steps, size_t n_steps, uint64_t timeout_usec,
                        const struct sockaddr_storage *dst)
{
        const char *reason;
        int client_relay, upstream_relay, proxy_fd, q;

        *t = (Tunnel) { .app = -EBADF, .proxy.fd = -EBADF };
        q = sd_event_new(&t->event);
        if (q < 0)
                return q;
        relay_core_init(&t->core, t->event, 16384, 0, timeout_usec);
        q = upstream_parse(url, &t->core.upstream, &reason);
        if (q < 0)
                return q;
        q = tcp_pair(&t->app, &client_relay);
        if (q < 0)
                return q;
        q = tcp_pair(&upstream_relay, &proxy_fd);
        if (q < 0)
                return q;
        t->proxy.fd = proxy_fd;
        t->proxy.steps = steps;
        t->proxy.n_steps = n_steps;
        t->proxy.echo = true;
        q = sd_event_add_io(t->event, &t->proxy.io, proxy_fd, EPOLLIN, on_proxy, &t->proxy);
        if (q < 0)
                return q;
        return relay_connection_through(&t->core, client_relay, upstream_relay, dst);
}

static void tunnel_done(Tunnel *t)
{
        sd_event_source_disable_unref(t->proxy.io);
        safe_close(t->proxy.fd);
        safe_close(t->app);
        relay_core_done(&t->core);
        sd_event_unref(t->event);
}

static void tunnel_run(Tunnel *t, uint64_t usec, bool until_closed)
{
        uint64_t end = now_usec() + usec;

        while (now_usec() < end && !(until_closed && !t->core.connections))
                (void) sd_event_run(t->event, 10 * 1000);
}

/* The client reads `want` bytes (or less at a reset): how many, -errno of the reset. */
static ssize_t app_read(Tunnel *t, uint8_t *buf, size_t want)
{
        size_t got = 0;
        uint64_t end = now_usec() + 3 * 1000000ULL;

        while (got < want && now_usec() < end) {
                ssize_t n = recv(t->app, buf + got, want - got, MSG_DONTWAIT);

                if (n == 0)
                        break;
                if (n < 0 && errno != EAGAIN)
                        return -errno;
                if (n > 0)
                        got += (size_t) n;
                else
                        (void) sd_event_run(t->event, 10 * 1000);
        }
        return (ssize_t) got;
}

static void tunnel_echo_check(Tunnel *t, const char *first, size_t n_first)
{
        uint8_t out[200000], in[sizeof(out) + 16];

        /* what the destination sent right behind the proxy's reply comes first, then the echo */
        for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (uint8_t) (i * 7 + i / 251);
        ASSERT_EQ(app_read(t, in, n_first), (ssize_t) n_first);
        ASSERT(memcmp(in, first, n_first) == 0);
        {
                size_t off = 0, got = 0;
                uint64_t end = now_usec() + 10 * 1000000ULL;

                while (got < sizeof(out) && now_usec() < end) {
                        ssize_t n;

                        if (off < sizeof(out)) {
                                n = send(t->app, out + off, sizeof(out) - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                                if (n > 0)
                                        off += (size_t) n;
                        }
                        n = recv(t->app, in + got, sizeof(in) - got, MSG_DONTWAIT);
                        if (n > 0)
                                got += (size_t) n;
                        (void) sd_event_run(t->event, 1000);
                }
                ASSERT_EQ(got, sizeof(out));
                ASSERT(memcmp(in, out, sizeof(out)) == 0);
        }
        ASSERT(!t->proxy.bad);
        ASSERT_EQ(t->core.stats.upstream_tunnels, 1u);
        ASSERT_EQ(t->core.stats.errors, 0u);
}

static const ScriptStep socks_auth_script[] = {
        STEP("\x05\x02\x00\x02", "\x05\x02"),
        STEP("\x01\x05" "alice" "\x06" "s3cret", "\x01\x00"),
        STEP("\x05\x01\x00\x01\xc0\x00\x02\x07\x00\x16", "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38" "SSH-2.0-x\r\n"),
};

static void test_relay_socks5(void)
{
        struct sockaddr_storage d = dst4("192.0.2.7", 22);
        Tunnel t;

        ASSERT_EQ(tunnel_start(&t, "socks5://alice:s3cret@127.0.0.1:1080", socks_auth_script,
                               ELEMENTSOF(socks_auth_script), 5 * 1000000ULL, &d), 0);
        tunnel_echo_check(&t, "SSH-2.0-x\r\n", 11);
        tunnel_done(&t);
}

static const ScriptStep http_script[] = {
        STEP("CONNECT [2001:db8::5]:443 HTTP/1.1\r\nHost: [2001:db8::5]:443\r\n\r\n",
             "HTTP/1.1 200 Connection established\r\n\r\nhi"),
};

static void test_relay_http(void)
{
        struct sockaddr_storage d = dst6("2001:db8::5", 443);
        Tunnel t;

        ASSERT_EQ(tunnel_start(&t, "http://127.0.0.1:3128", http_script, ELEMENTSOF(http_script), 5 * 1000000ULL,
                               &d), 0);
        tunnel_echo_check(&t, "hi", 2);
        tunnel_done(&t);
}

/* The proxy's script ends in a failure: the client is reset promptly, the cause counted. */
static void relay_fails(const char *url, const ScriptStep *steps, size_t n_steps, bool close_after,
                        UpstreamFailure cause, uint64_t timeout_usec)
{
        struct sockaddr_storage d = dst4("192.0.2.7", 80);
        uint64_t start = now_usec();
        uint8_t buf[16];
        Tunnel t;

        ASSERT_EQ(tunnel_start(&t, url, steps, n_steps, timeout_usec, &d), 0);
        t.proxy.close_after = close_after;
        t.proxy.echo = false;
        /* the client speaks first: nothing of it may reach the proxy */
        ASSERT_EQ(send(t.app, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL), 18);
        tunnel_run(&t, 3 * 1000000ULL, true);
        ASSERT(!t.core.connections);
        ASSERT_EQ(app_read(&t, buf, sizeof(buf)), -ECONNRESET);
        ASSERT(now_usec() - start < timeout_usec + 1000000ULL);
        for (int f = 0; f < _UPSTREAM_FAILURE_MAX; f++)
                ASSERT_EQ(t.core.stats.upstream_failures[f], f == (int) cause ? 1u : 0u);
        ASSERT_EQ(t.core.stats.connect_failed, 1u);
        ASSERT_EQ(t.core.stats.connect_timeouts, cause == UPSTREAM_FAILURE_TIMEOUT ? 1u : 0u);
        ASSERT_EQ(t.core.stats.upstream_tunnels, 0u);
        ASSERT_EQ(t.core.stats.bytes_to_upstream, 0u);
        ASSERT(!t.proxy.bad);
        ASSERT_EQ(t.proxy.n_in, 0u);
        tunnel_done(&t);
}

static const ScriptStep s_auth_refused[] = {
        STEP("\x05\x02\x00\x02", "\x05\x02"),
        STEP("\x01\x01" "a" "\x01" "b", "\x01\x01"),
};
static const ScriptStep s_no_method[] = { STEP("\x05\x02\x00\x02", "\x05\xff") };
static const ScriptStep s_refused[] = {
        STEP("\x05\x01\x00", "\x05\x00"),
        STEP("\x05\x01\x00\x01\xc0\x00\x02\x07\x00\x50", "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"),
};
static const ScriptStep s_garbage[] = { STEP("\x05\x01\x00", "\x04\x5a") };
static const ScriptStep s_closes[] = { STEP("\x05\x01\x00", "") };
static const ScriptStep s_stalls[] = { STEP("\x05\x01\x00", "\x05") };
static const ScriptStep h_407[] = {
        STEP("CONNECT 192.0.2.7:80 HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n",
             "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=x\r\n\r\n"),
};
static const ScriptStep h_403[] = {
        STEP("CONNECT 192.0.2.7:80 HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n", "HTTP/1.0 403 Forbidden\r\n\r\n"),
};
static const ScriptStep h_garbage[] = {
        STEP("CONNECT 192.0.2.7:80 HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n", "SSH-2.0-OpenSSH\r\n"),
};
static const ScriptStep h_stalls[] = {
        STEP("CONNECT 192.0.2.7:80 HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n", "HTTP/1.1 200 OK\r\n"),
};

static void test_relay_failures(void)
{
        relay_fails("socks5://a:b@127.0.0.1:1", s_auth_refused, ELEMENTSOF(s_auth_refused), false,
                    UPSTREAM_FAILURE_AUTH, 5 * 1000000ULL);
        relay_fails("socks5://a:b@127.0.0.1:1", s_no_method, ELEMENTSOF(s_no_method), false, UPSTREAM_FAILURE_AUTH,
                    5 * 1000000ULL);
        relay_fails("socks5://127.0.0.1:1", s_refused, ELEMENTSOF(s_refused), false, UPSTREAM_FAILURE_REFUSED,
                    5 * 1000000ULL);
        relay_fails("socks5://127.0.0.1:1", s_garbage, ELEMENTSOF(s_garbage), false, UPSTREAM_FAILURE_PROTOCOL,
                    5 * 1000000ULL);
        relay_fails("socks5://127.0.0.1:1", s_closes, ELEMENTSOF(s_closes), true, UPSTREAM_FAILURE_PROTOCOL,
                    5 * 1000000ULL);
        relay_fails("socks5://127.0.0.1:1", s_stalls, ELEMENTSOF(s_stalls), false, UPSTREAM_FAILURE_TIMEOUT,
                    300 * 1000);
        relay_fails("http://127.0.0.1:1", h_407, ELEMENTSOF(h_407), false, UPSTREAM_FAILURE_AUTH, 5 * 1000000ULL);
        relay_fails("http://127.0.0.1:1", h_403, ELEMENTSOF(h_403), false, UPSTREAM_FAILURE_REFUSED, 5 * 1000000ULL);
        relay_fails("http://127.0.0.1:1", h_garbage, ELEMENTSOF(h_garbage), false, UPSTREAM_FAILURE_PROTOCOL,
                    5 * 1000000ULL);
        relay_fails("http://127.0.0.1:1", h_stalls, ELEMENTSOF(h_stalls), false, UPSTREAM_FAILURE_TIMEOUT,
                    300 * 1000);
}

/* One warning per cause a minute: the second failure of a kind is only counted. */
static void test_failure_log_rate_limited(void)
{
        struct sockaddr_storage d = dst4("192.0.2.7", 80);
        int app = -EBADF, client_relay, upstream_relay, proxy;
        Tunnel t;

        ASSERT_EQ(tunnel_start(&t, "socks5://127.0.0.1:1", s_closes, ELEMENTSOF(s_closes), 5 * 1000000ULL, &d), 0);
        t.proxy.close_after = true;
        t.proxy.echo = false;
        tunnel_run(&t, 3 * 1000000ULL, true);
        ASSERT_EQ(t.core.stats.upstream_failures[UPSTREAM_FAILURE_PROTOCOL], 1u);
        ASSERT(t.core.upstream_logged_usec[UPSTREAM_FAILURE_PROTOCOL] != 0);
        ASSERT_EQ(t.core.upstream_suppressed[UPSTREAM_FAILURE_PROTOCOL], 0u);

        /* a second proxy connection that closes at once */
        ASSERT_EQ(tcp_pair(&app, &client_relay), 0);
        ASSERT_EQ(tcp_pair(&upstream_relay, &proxy), 0);
        safe_close(proxy);
        ASSERT_EQ(relay_connection_through(&t.core, client_relay, upstream_relay, &d), 0);
        tunnel_run(&t, 3 * 1000000ULL, true);
        ASSERT(!t.core.connections);
        ASSERT_EQ(t.core.stats.upstream_failures[UPSTREAM_FAILURE_PROTOCOL], 2u);
        ASSERT_EQ(t.core.upstream_suppressed[UPSTREAM_FAILURE_PROTOCOL], 1u);
        /* another cause has its own budget */
        ASSERT_EQ(t.core.upstream_logged_usec[UPSTREAM_FAILURE_AUTH], 0u);
        safe_close(app);
        tunnel_done(&t);
}

/* Stopping while the handshake is under way: the client gets a FIN, the proxy socket is closed. */
static void test_begin_close_in_handshake(void)
{
        struct sockaddr_storage d = dst4("192.0.2.7", 80);
        uint8_t buf[4];
        Tunnel t;

        ASSERT_EQ(tunnel_start(&t, "socks5://127.0.0.1:1", s_stalls, ELEMENTSOF(s_stalls), 5 * 1000000ULL, &d), 0);
        tunnel_run(&t, 100 * 1000, false);
        ASSERT(t.core.connections);
        ASSERT(relay_connection_opening_tunnel(t.core.connections));
        relay_connection_begin_close(t.core.connections);
        ASSERT_EQ(app_read(&t, buf, sizeof(buf)), 0);
        tunnel_run(&t, 200 * 1000, false);
        ASSERT(t.proxy.eof);
        safe_close(TAKE_FD(t.app));
        tunnel_run(&t, 500 * 1000, true);
        ASSERT(!t.core.connections);
        tunnel_done(&t);
}

int main(void)
{
        RUN(test_parse);
        RUN(test_parse_errors);
        RUN(test_socks5_no_auth);
        RUN(test_socks5_auth);
        RUN(test_socks5_failures);
        RUN(test_http_connect);
        RUN(test_http_failures);
        RUN(test_relay_socks5);
        RUN(test_relay_http);
        RUN(test_relay_failures);
        RUN(test_failure_log_rate_limited);
        RUN(test_begin_close_in_handshake);
        TESTS_DONE();
}
