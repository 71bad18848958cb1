/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The relay's connection state machine (relay-connection.c) driven over loopback TCP pairs in an
 * sd-event loop, as any user: no listener, no BPF. Each test builds
 *     app client <-> [client side | relay | upstream side] <-> app server
 * from two TCP pairs and plays the applications from the same loop. */
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handover-format.h"
#include "relay-connection.h"
#include "tests.h"
#include "util.h"

#define BUFFER_SIZE (16 * 1024)
#define PERIOD_UP 251        /* prime periods: a byte lost, doubled or moved shows */
#define PERIOD_DOWN 241

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static uint8_t pattern(uint64_t i, unsigned period)
{
        return (uint8_t) ((i % period) * 13 + period);
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

/* One application end: sends `to_send` bytes of its pattern (then FIN if `fin`), checks what
 * arrives against the other pattern. */
typedef struct Peer {
        int fd;
        sd_event_source *io;
        unsigned period_out, period_in;
        uint64_t to_send, sent, received;
        bool fin, fin_sent, eof, reading, bad_byte;
        int error;                  /* -errno of a failed read or write */
} Peer;

typedef struct Rig {
        sd_event *event;
        RelayCore core;
        Peer client, server;
        unsigned n_closed;          /* core->closed calls */
} Rig;

static void peer_update(Peer *p)
{
        uint32_t ev = 0;

        if (p->reading && !p->eof && p->error == 0)
                ev |= EPOLLIN;
        if ((p->sent < p->to_send || (p->fin && !p->fin_sent)) && p->error == 0)
                ev |= EPOLLOUT;
        if (ev == 0)
                (void) sd_event_source_set_enabled(p->io, SD_EVENT_OFF);
        else {
                (void) sd_event_source_set_io_events(p->io, ev);
                (void) sd_event_source_set_enabled(p->io, SD_EVENT_ON);
        }
}

static int on_peer(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Peer *p = userdata;
        uint8_t buf[65536];
        ssize_t n;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR) && p->reading && !p->eof) {
                n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && errno != EAGAIN)
                        p->error = -errno;
                else if (n == 0)
                        p->eof = true;
                for (ssize_t k = 0; k < n; k++)
                        if (buf[k] != pattern(p->received + (uint64_t) k, p->period_in))
                                p->bad_byte = true;
                if (n > 0)
                        p->received += (uint64_t) n;
        }
        if (revents & EPOLLOUT && p->error == 0) {
                while (p->sent < p->to_send) {
                        size_t m = (size_t) MIN((uint64_t) sizeof(buf), p->to_send - p->sent);

                        for (size_t k = 0; k < m; k++)
                                buf[k] = pattern(p->sent + k, p->period_out);
                        n = send(fd, buf, m, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n < 0) {
                                if (errno != EAGAIN)
                                        p->error = -errno;
                                break;
                        }
                        p->sent += (uint64_t) n;
                }
                if (p->sent == p->to_send && p->fin && !p->fin_sent) {
                        if (shutdown(fd, SHUT_WR) < 0)
                                p->error = -errno;
                        p->fin_sent = true;
                }
        }
        peer_update(p);
        return 0;
}

static void on_closed(RelayCore *core, void *userdata)
{
        Rig *rig = userdata;

        rig->n_closed++;
}

/* The rig with a relayed connection between the two peers. */
static int rig_init(Rig *rig, size_t buffer_size)
{
        RelayConnectionState st = {};
        int client_app, client_relay, upstream_relay, upstream_app, q;

        *rig = (Rig) {};
        q = sd_event_new(&rig->event);
        if (q < 0)
                return q;
        relay_core_init(&rig->core, rig->event, buffer_size, 0, 5 * 1000000ULL);
        rig->core.closed = on_closed;
        rig->core.userdata = rig;
        q = tcp_pair(&client_app, &client_relay);
        if (q < 0)
                return q;
        q = tcp_pair(&upstream_relay, &upstream_app);
        if (q < 0)
                return q;
        rig->client = (Peer) { .fd = client_app, .period_out = PERIOD_UP, .period_in = PERIOD_DOWN, .reading = true };
        rig->server = (Peer) { .fd = upstream_app, .period_out = PERIOD_DOWN, .period_in = PERIOD_UP, .reading = true };
        for (Peer *p = &rig->client; p; p = p == &rig->client ? &rig->server : NULL) {
                q = sd_event_add_io(rig->event, &p->io, p->fd, EPOLLIN, on_peer, p);
                if (q < 0)
                        return q;
        }
        st.fd[RELAY_SIDE_CLIENT] = client_relay;
        st.fd[RELAY_SIDE_UPSTREAM] = upstream_relay;
        return relay_connection_new(&rig->core, &st);
}

static void rig_done(Rig *rig)
{
        for (Peer *p = &rig->client; p; p = p == &rig->client ? &rig->server : NULL) {
                sd_event_source_disable_unref(p->io);
                safe_close(p->fd);
        }
        relay_core_done(&rig->core);
        sd_event_unref(rig->event);
}

static void rig_kick(Rig *rig)
{
        peer_update(&rig->client);
        peer_update(&rig->server);
}

/* Runs the loop until done(rig) or timeout; true if done. */
static bool rig_run(Rig *rig, bool (*done)(Rig *rig), uint64_t timeout_usec)
{
        uint64_t end = now_usec() + timeout_usec;

        rig_kick(rig);
        while (!done(rig)) {
                if (now_usec() > end)
                        return false;
                if (sd_event_run(rig->event, 50 * 1000) < 0)
                        return false;
        }
        return true;
}

/* Runs the loop for a while, whatever happens. */
static void rig_idle(Rig *rig, uint64_t usec)
{
        uint64_t end = now_usec() + usec;

        rig_kick(rig);
        while (now_usec() < end)
                (void) sd_event_run(rig->event, 10 * 1000);
}

static bool both_eof_and_closed(Rig *rig)
{
        return rig->client.eof && rig->server.eof && !rig->core.connections;
}

static void transfer_both_ways(size_t buffer_size, uint64_t up, uint64_t down)
{
        Rig rig;

        ASSERT_EQ(rig_init(&rig, buffer_size), 0);
        ASSERT(rig.core.connections);
        rig.client.to_send = up;
        rig.server.to_send = down;
        rig.client.fin = rig.server.fin = true;
        ASSERT(rig_run(&rig, both_eof_and_closed, 60 * 1000000ULL));
        ASSERT(!rig.client.bad_byte && !rig.server.bad_byte);
        ASSERT_EQ(rig.client.error, 0);
        ASSERT_EQ(rig.server.error, 0);
        ASSERT_EQ(rig.server.received, up);
        ASSERT_EQ(rig.client.received, down);
        ASSERT_EQ(rig.core.stats.bytes_to_upstream, up);
        ASSERT_EQ(rig.core.stats.bytes_to_client, down);
        ASSERT_EQ(rig.core.stats.connections_active, 0u);
        ASSERT_EQ(rig.core.stats.resets + rig.core.stats.errors, 0u);
        ASSERT_EQ(rig.n_closed, 1u);
        ASSERT_EQ(rig.core.pool.n_in_use, 0u);
        rig_done(&rig);
}

static void test_transfer_byte_exact(void)
{
        transfer_both_ways(BUFFER_SIZE, 16 * 1024 * 1024 + 7, 8 * 1024 * 1024 + 3);
}

static void test_transfer_small_buffer(void)
{
        /* a buffer of a prime size: every read and write boundary moves */
        transfer_both_ways(1021, 2 * 1024 * 1024 + 1, 1024 * 1024 + 5);
}

static void test_transfer_empty(void)
{
        transfer_both_ways(BUFFER_SIZE, 0, 0);
}

static bool server_eof(Rig *rig)
{
        return rig->server.eof;
}

static bool server_got_all(Rig *rig)
{
        return rig->server.received >= rig->client.to_send;
}

static bool client_got_all(Rig *rig)
{
        return rig->client.received >= rig->server.to_send;
}

static bool both_eof(Rig *rig)
{
        return rig->client.eof && rig->server.eof;
}

static bool client_eof(Rig *rig)
{
        return rig->client.eof;
}

static bool closed(Rig *rig)
{
        return !rig->core.connections;
}

/* One side sends and FINs first; the other, having seen all of it and the EOF, still sends its
 * answer through the half-closed connection, then FINs. */
static void half_close(bool client_first)
{
        Rig rig;
        Peer *first, *second;

        ASSERT_EQ(rig_init(&rig, BUFFER_SIZE), 0);
        first = client_first ? &rig.client : &rig.server;
        second = client_first ? &rig.server : &rig.client;
        first->to_send = 300 * 1000 + 1;
        first->fin = true;
        ASSERT(rig_run(&rig, client_first ? server_eof : client_eof, 10 * 1000000ULL));
        ASSERT_EQ(second->received, 300 * 1000 + 1);
        ASSERT(!second->bad_byte);
        ASSERT(!first->eof);
        ASSERT(rig.core.connections);           /* half-open, still relaying the other way */

        second->to_send = 200 * 1000 + 3;
        second->fin = true;
        ASSERT(rig_run(&rig, both_eof_and_closed, 10 * 1000000ULL));
        ASSERT_EQ(first->received, 200 * 1000 + 3);
        ASSERT(!first->bad_byte);
        ASSERT_EQ(rig.core.stats.resets + rig.core.stats.errors, 0u);
        ASSERT_EQ(rig.core.pool.n_in_use, 0u);
        rig_done(&rig);
}

static void test_half_close_client_first(void)
{
        half_close(true);
}

static void test_half_close_upstream_first(void)
{
        half_close(false);
}

static bool server_error(Rig *rig)
{
        return rig->server.error != 0 && !rig->core.connections;
}

static bool client_error(Rig *rig)
{
        return rig->client.error != 0 && !rig->core.connections;
}

/* A side that resets (SO_LINGER 0 and close) resets the other side too. */
static void reset(bool client_resets)
{
        struct linger lz = { .l_onoff = 1, .l_linger = 0 };
        Rig rig;
        Peer *gone, *other;

        ASSERT_EQ(rig_init(&rig, BUFFER_SIZE), 0);
        gone = client_resets ? &rig.client : &rig.server;
        other = client_resets ? &rig.server : &rig.client;
        gone->to_send = 1000;
        ASSERT(rig_run(&rig, client_resets ? server_got_all : client_got_all, 10 * 1000000ULL));
        ASSERT_EQ(other->received, 1000u);

        ASSERT_EQ(setsockopt(gone->fd, SOL_SOCKET, SO_LINGER, &lz, sizeof(lz)), 0);
        gone->io = sd_event_source_disable_unref(gone->io);
        gone->fd = safe_close(gone->fd);
        ASSERT(rig_run(&rig, client_resets ? server_error : client_error, 10 * 1000000ULL));
        ASSERT_EQ(other->error, -ECONNRESET);
        ASSERT(!other->eof);                    /* a reset, not a FIN */
        ASSERT_EQ(rig.core.stats.resets, 1u);
        ASSERT_EQ(rig.core.stats.errors, 0u);
        ASSERT_EQ(rig.n_closed, 1u);
        ASSERT_EQ(rig.core.pool.n_in_use, 0u);
        rig_done(&rig);
}

static void test_reset_from_client(void)
{
        reset(true);
}

static void test_reset_from_upstream(void)
{
        reset(false);
}

/* The server stops reading: the relay holds at most one buffer of what the client sent and stops
 * reading from it, so the client meets a full socket; when the server reads again, everything
 * arrives, exactly. */
static void test_stopped_receiver_bounded(void)
{
        RelayConnectionState st;
        uint64_t before;
        Rig rig;

        ASSERT_EQ(rig_init(&rig, BUFFER_SIZE), 0);
        rig.server.reading = false;
        rig.client.to_send = UINT64_MAX / 2;
        rig_idle(&rig, 300 * 1000);
        do {
                before = rig.client.sent;
                rig_idle(&rig, 200 * 1000);
        } while (rig.client.sent != before);
        ASSERT_EQ(rig.client.error, 0);
        ASSERT(rig.core.connections);
        relay_connection_get_state(rig.core.connections, &st);
        ASSERT(st.n_pending[RELAY_SIDE_CLIENT] <= BUFFER_SIZE);
        ASSERT_EQ(st.n_pending[RELAY_SIDE_UPSTREAM], 0u);
        ASSERT(rig.core.pool.n_in_use <= 1);
        /* the rest of what the client got rid of is in the kernel's socket buffers */
        printf("stalled: client sent %llu, relay wrote %llu, holds %zu\n",
               (unsigned long long) rig.client.sent, (unsigned long long) rig.core.stats.bytes_to_upstream,
               st.n_pending[RELAY_SIDE_CLIENT]);

        rig.client.to_send = rig.client.sent;
        rig.client.fin = true;
        rig.server.reading = true;
        rig.server.fin = true;
        ASSERT(rig_run(&rig, both_eof_and_closed, 30 * 1000000ULL));
        ASSERT_EQ(rig.server.received, rig.client.sent);
        ASSERT(!rig.server.bad_byte);
        ASSERT_EQ(rig.core.pool.n_in_use, 0u);
        rig_done(&rig);
}

/* send() failing with ENOMEM (a fastpath socket whose peer's memory is used up) is retried on a
 * backing-off timer, not in a loop, and nothing is lost. */
static uint64_t enomem_until;
static unsigned n_enomem, n_sends;

static ssize_t send_enomem(int fd, const void *buf, size_t n, int flags)
{
        n_sends++;
        if (now_usec() < enomem_until) {
                n_enomem++;
                errno = ENOMEM;
                return -1;
        }
        return send(fd, buf, n, flags);
}

static void test_enomem_retry(void)
{
        uint64_t start;
        Rig rig;

        ASSERT_EQ(rig_init(&rig, BUFFER_SIZE), 0);
        rig.core.send = send_enomem;
        n_enomem = n_sends = 0;
        start = now_usec();
        enomem_until = start + 300 * 1000;
        rig.client.to_send = 1024 * 1024 + 11;
        rig.client.fin = rig.server.fin = true;
        ASSERT(rig_run(&rig, both_eof_and_closed, 10 * 1000000ULL));
        ASSERT_EQ(rig.server.received, 1024 * 1024 + 11);
        ASSERT(!rig.server.bad_byte);
        ASSERT(now_usec() - start >= 300 * 1000);
        /* 5, 10, 20, 40, 80, 160, 200 ms (each up to 250 ms late, sd-event's default accuracy):
         * a few retries in 300 ms, not a spin */
        printf("ENOMEM: %u failed sends of %u\n", n_enomem, n_sends);
        ASSERT(n_enomem >= 2);
        ASSERT(n_enomem <= 12);
        ASSERT_EQ(rig.core.stats.resets + rig.core.stats.errors, 0u);
        rig_done(&rig);
}

/* Stopping: what was read is written, both sides get a FIN, what they send afterwards is read
 * and dropped, and the connection ends once both FINed. */
static void test_begin_close(void)
{
        Rig rig;

        ASSERT_EQ(rig_init(&rig, BUFFER_SIZE), 0);
        rig.client.to_send = 5000;
        ASSERT(rig_run(&rig, server_got_all, 10 * 1000000ULL));
        relay_connection_begin_close(rig.core.connections);
        ASSERT(rig_run(&rig, both_eof, 10 * 1000000ULL));
        ASSERT_EQ(rig.server.received, 5000u);
        ASSERT(rig.core.connections);           /* waits for the peers' FINs */

        rig.client.to_send = 5000 + 777;        /* after our FIN: dropped */
        rig.client.fin = rig.server.fin = true;
        ASSERT(rig_run(&rig, closed, 10 * 1000000ULL));
        ASSERT_EQ(rig.server.received, 5000u);
        ASSERT_EQ(rig.core.stats.discarded_bytes, 777u);
        ASSERT_EQ(rig.core.stats.resets + rig.core.stats.errors, 0u);
        rig_done(&rig);
}

/* A connection created while its upstream connect is in progress starts relaying once connected;
 * one whose connect never completes is given up after the timeout and its client reset. */
static void test_connect_then_relay(void)
{
        _cleanup_close_ int l = -EBADF, app_client = -EBADF;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);
        RelayConnectionState st = { .connecting = true };
        int client_relay, up, server;
        Rig rig = {};

        ASSERT_EQ(sd_event_new(&rig.event), 0);
        relay_core_init(&rig.core, rig.event, BUFFER_SIZE, 0, 5 * 1000000ULL);
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT(l >= 0);
        ASSERT_EQ(bind(l, (struct sockaddr *) &sin, sizeof(sin)), 0);
        ASSERT_EQ(listen(l, 4), 0);
        ASSERT_EQ(getsockname(l, (struct sockaddr *) &sin, &len), 0);
        ASSERT_EQ(tcp_pair(&app_client, &client_relay), 0);
        up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ASSERT(up >= 0);
        ASSERT(connect(up, (struct sockaddr *) &sin, sizeof(sin)) == 0 || errno == EINPROGRESS);
        st.fd[RELAY_SIDE_CLIENT] = client_relay;
        st.fd[RELAY_SIDE_UPSTREAM] = up;
        ASSERT_EQ(relay_connection_new(&rig.core, &st), 0);
        ASSERT_EQ(write(app_client, "hello", 5), 5);
        server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        ASSERT(server >= 0);
        rig.server = (Peer) { .fd = server, .period_in = 1 };
        rig.client = (Peer) { .fd = -EBADF };
        for (int i = 0; i < 100 && rig.core.stats.bytes_to_upstream < 5; i++)
                (void) sd_event_run(rig.event, 10 * 1000);
        {
                char buf[8] = {};

                ASSERT_EQ(recv(server, buf, sizeof(buf), MSG_DONTWAIT), 5);
                ASSERT_STREQ(buf, "hello");
        }
        ASSERT_EQ(rig.core.stats.connect_failed, 0u);
        rig_done(&rig);
}

static void test_connect_timeout(void)
{
        _cleanup_close_ int l = -EBADF, filler = -EBADF, app_client = -EBADF;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);
        RelayConnectionState st = { .connecting = true };
        int client_relay, up;
        uint64_t start;
        char c;
        Rig rig = {};

        ASSERT_EQ(sd_event_new(&rig.event), 0);
        relay_core_init(&rig.core, rig.event, BUFFER_SIZE, 0, 200 * 1000);
        /* a listener whose backlog is full drops the next SYN: that connect never completes */
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT(l >= 0);
        ASSERT_EQ(bind(l, (struct sockaddr *) &sin, sizeof(sin)), 0);
        ASSERT_EQ(listen(l, 0), 0);
        ASSERT_EQ(getsockname(l, (struct sockaddr *) &sin, &len), 0);
        filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_EQ(connect(filler, (struct sockaddr *) &sin, sizeof(sin)), 0);
        ASSERT_EQ(tcp_pair(&app_client, &client_relay), 0);
        up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ASSERT(up >= 0);
        ASSERT(connect(up, (struct sockaddr *) &sin, sizeof(sin)) < 0 && errno == EINPROGRESS);
        st.fd[RELAY_SIDE_CLIENT] = client_relay;
        st.fd[RELAY_SIDE_UPSTREAM] = up;
        start = now_usec();
        ASSERT_EQ(relay_connection_new(&rig.core, &st), 0);
        rig.client = rig.server = (Peer) { .fd = -EBADF };
        while (rig.core.connections && now_usec() - start < 5 * 1000000ULL)
                (void) sd_event_run(rig.event, 50 * 1000);
        ASSERT(!rig.core.connections);
        ASSERT(now_usec() - start >= 200 * 1000);
        ASSERT_EQ(rig.core.stats.connect_timeouts, 1u);
        ASSERT_EQ(rig.core.stats.connect_failed, 1u);
        /* the client is reset, not FINed */
        ASSERT(recv(app_client, &c, 1, 0) < 0 && errno == ECONNRESET);
        rig_done(&rig);
}

/* A restart in one process: a connection holding unwritten bytes (its receiver stopped) goes
 * through the handover format into a new RelayCore, the old one is freed, and the new one
 * delivers every byte, the held ones included, in order. */
static void test_handover_and_continue(void)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        _cleanup_(handover_writer_freep) HandoverWriter *w = NULL;
        int state = -EBADF, sockets = -EBADF;
        RelayConnectionState st;
        uint64_t before, written_before;
        size_t held;
        Rig rig;

        ASSERT_EQ(rig_init(&rig, BUFFER_SIZE), 0);
        rig.server.reading = false;
        rig.client.to_send = UINT64_MAX / 2;
        rig.server.to_send = 100 * 1000 + 1;
        do {
                before = rig.client.sent;
                rig_idle(&rig, 200 * 1000);
        } while (rig.client.sent != before);
        ASSERT_EQ(rig.client.received, 100 * 1000 + 1);
        relay_connection_get_state(rig.core.connections, &st);
        held = st.n_pending[RELAY_SIDE_CLIENT];
        written_before = rig.core.stats.bytes_to_upstream;
        printf("handing over with %zu unwritten bytes\n", held);

        ASSERT_EQ(handover_writer_new(&w, 1), 0);
        ASSERT_EQ(handover_writer_add(w, &st), 0);
        ASSERT_EQ(handover_writer_finish(w, &state, &sockets, NULL), 0);
        /* the old process ends: its sockets close, the copies in flight keep the connections */
        relay_core_done(&rig.core);
        relay_core_init(&rig.core, rig.event, BUFFER_SIZE, 0, 5 * 1000000ULL);

        ASSERT_EQ(handover_reader_new(&rd, state, sockets), 0);
        ASSERT_EQ(handover_reader_next(rd, &rig.core.pool, &st), 1);
        ASSERT_EQ(st.n_pending[RELAY_SIDE_CLIENT], held);
        ASSERT_EQ(relay_connection_new(&rig.core, &st), 0);
        ASSERT_EQ(handover_reader_next(rd, &rig.core.pool, &st), 0);

        rig.client.to_send = rig.client.sent;
        rig.client.fin = rig.server.fin = true;
        rig.server.reading = true;
        ASSERT(rig_run(&rig, both_eof_and_closed, 30 * 1000000ULL));
        ASSERT_EQ(rig.server.received, rig.client.sent);
        ASSERT(!rig.server.bad_byte);
        ASSERT_EQ(written_before + rig.core.stats.bytes_to_upstream, rig.client.sent);
        ASSERT_EQ(rig.core.stats.resets + rig.core.stats.errors, 0u);
        ASSERT_EQ(rig.core.pool.n_in_use, 0u);
        rig_done(&rig);
}

int main(void)
{
        RUN(test_transfer_byte_exact);
        RUN(test_transfer_small_buffer);
        RUN(test_transfer_empty);
        RUN(test_half_close_client_first);
        RUN(test_half_close_upstream_first);
        RUN(test_reset_from_client);
        RUN(test_reset_from_upstream);
        RUN(test_stopped_receiver_bounded);
        RUN(test_enomem_retry);
        RUN(test_begin_close);
        RUN(test_connect_then_relay);
        RUN(test_connect_timeout);
        RUN(test_handover_and_continue);
        TESTS_DONE();
}
