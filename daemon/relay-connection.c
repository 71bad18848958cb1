/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/param.h>

#include "relay-connection.h"
#include "socket-util.h"
#include "util.h"

#define READ_BATCH 8
#define RETRY_FIRST_USEC (5 * 1000ULL)
#define RETRY_MAX_USEC (200 * 1000ULL)
/* Connection sockets are edge-triggered and re-armed by every connection_update(). sd-event calls
 * epoll_wait() once per dispatched source, and that call polls every level-triggered socket that
 * is still ready: with thousands of busy connections each dispatch cost O(ready sockets) and the
 * relay crawled (10,000 connections echoing at once, tests/soak/test-load.sh). Re-arming keeps
 * the logic of a level-triggered loop: for EPOLLET sd-event never skips the epoll_ctl(MOD), and
 * MOD queues the socket again if it is still ready. */
#define CONNECTION_EPOLL_FLAGS EPOLLET
/* Keepalive on the client's side, see relay_connection_connect(): a vanished client is noticed
 * within IDLE + INTERVAL * COUNT seconds of silence. */
#define CLIENT_KEEPALIVE_IDLE_SEC 60
#define CLIENT_KEEPALIVE_INTERVAL_SEC 10
#define CLIENT_KEEPALIVE_COUNT 3
/* one warning per cause of upstream failure at most this often; the rest are counted */
#define UPSTREAM_LOG_INTERVAL_USEC (60 * 1000000ULL)

/* Bytes read from one socket and not yet written to the other. */
typedef struct RelayDirection {
        uint8_t *buf;               /* NULL while empty */
        size_t start, end;
        bool eof;                   /* the reading socket saw EOF */
        bool shut;                  /* ... and it was passed on with shutdown(SHUT_WR) */
} RelayDirection;

struct RelayConnection {
        RelayCore *core;
        RelayConnection *prev, *next;
        int fd[2];                  /* RELAY_SIDE_CLIENT: accepted, RELAY_SIDE_UPSTREAM: to the original destination */
        sd_event_source *io[2];
        sd_event_source *timer;     /* connect timeout */
        RelayDirection dir[2];      /* dir[s]: read from fd[s], written to fd[!s] */
        bool connecting;
        bool fin_seen[2];           /* fd[s] returned EOF (or failed); stopping, we FIN first and
                                     * wait for these before closing (relay_connection_begin_close()) */
        bool stalled[2];            /* a write to fd[t] failed with ENOMEM: retried by a timer */
        sd_event_source *retry;
        uint64_t retry_usec;
        UpstreamHandshake *handshake;   /* connecting to a proxy, or the handshake: not relaying yet */
        struct sockaddr_storage dst;    /* the original destination, for UPSTREAM_FALLBACK_DIRECT */
        bool fell_back;
};

void relay_core_init(RelayCore *core, sd_event *event, size_t buffer_size, uint32_t bypass_mark,
                     uint64_t connect_timeout_usec)
{
        *core = (RelayCore) {
                .event = sd_event_ref(event),
                .bypass_mark = bypass_mark,
                .connect_timeout_usec = connect_timeout_usec,
                .send = send,
        };
        buffer_pool_init(&core->pool, buffer_size);
}

void relay_core_done(RelayCore *core)
{
        core->closed = NULL;
        while (core->connections)
                relay_connection_free(core->connections);
        buffer_pool_done(&core->pool);
        upstream_done(&core->upstream);
        core->event = sd_event_unref(core->event);
}

static void direction_release_buffer(RelayCore *core, RelayDirection *d)
{
        buffer_pool_put(&core->pool, TAKE_PTR(d->buf));
        d->start = d->end = 0;
}

static UpstreamHandshake *mfree_bzero(UpstreamHandshake *h)
{
        if (h)
                explicit_bzero(h, sizeof(*h));
        free(h);
        return NULL;
}

static void set_client_keepalive(int fd)
{
        int one = 1, idle = CLIENT_KEEPALIVE_IDLE_SEC, intvl = CLIENT_KEEPALIVE_INTERVAL_SEC,
            cnt = CLIENT_KEEPALIVE_COUNT;

        (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

RelayConnection *relay_connection_free(RelayConnection *c)
{
        RelayCore *core;

        if (!c)
                return NULL;
        core = c->core;
        for (int s = 0; s < 2; s++) {
                sd_event_source_disable_unref(c->io[s]);
                safe_close(c->fd[s]);
                direction_release_buffer(core, &c->dir[s]);
        }
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->retry);
        mfree_bzero(c->handshake);

        if (c->prev)
                c->prev->next = c->next;
        else
                core->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        core->stats.connections_active--;
        free(c);

        if (core->closed)
                core->closed(core, core->userdata);
        return NULL;
}

/* Side `side` failed (reset, or an error): pass a reset on to the other side and drop both. */
static int connection_abort(RelayConnection *c, int side, int error)
{
        RelayCore *core = c->core;

        /* A timeout here is the client-side keepalive giving up on a peer that vanished unseen
         * (e.g. its FIN left directly while its link was not intercepted, or its link was deleted:
         * then the kernel reports the unreachable error it saw, not ETIMEDOUT): a reset, not a
         * failure of the relay */
        if (socket_error_is_peer_lost(error))
                core->stats.resets++;
        else
                core->stats.errors++;
        log_debug_errno(error, "Relayed connection: %s side failed, resetting the %s side: %m",
                        side == RELAY_SIDE_CLIENT ? "client" : "upstream",
                        side == RELAY_SIDE_CLIENT ? "upstream" : "client");
        socket_set_linger_zero(c->fd[!side]);
        relay_connection_free(c);
        return 0;
}

static int connection_update(RelayConnection *c);
static int connection_write(RelayConnection *c, int t);

static int on_write_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        RelayConnection *c = userdata;
        int q;

        for (int t = 0; t < 2; t++) {
                if (!c->stalled[t])
                        continue;
                c->stalled[t] = false;
                q = connection_write(c, t);
                if (q < 0)
                        return connection_abort(c, t, q);
        }
        return connection_update(c);
}

/* A fastpath socket (in the sockhash) whose peer does not read fails send() with ENOMEM once
 * the peer's memory is used up, instead of EAGAIN, and never becomes "writable" later: the
 * kernel does not wake us when the peer reads. Retry on a timer, backing off. */
static int connection_stall(RelayConnection *c, int t)
{
        int q;

        c->stalled[t] = true;
        c->retry_usec = c->retry_usec ? MIN(c->retry_usec * 2, RETRY_MAX_USEC) : RETRY_FIRST_USEC;
        if (!c->retry)
                q = sd_event_add_time_relative(c->core->event, &c->retry, CLOCK_MONOTONIC, c->retry_usec, 0,
                                               on_write_retry, c);
        else
                q = sd_event_source_set_time_relative(c->retry, c->retry_usec);
        if (q >= 0)
                q = sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
        return q;
}

/* Writes what was read from fd[!t] to fd[t]; passes EOF on once everything is written. */
static int connection_write(RelayConnection *c, int t)
{
        RelayDirection *d = &c->dir[!t];
        RelayCore *core = c->core;
        ssize_t n;

        while (d->start < d->end) {
                n = core->send(c->fd[t], d->buf + d->start, d->end - d->start, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        if (errno == ENOMEM)
                                return connection_stall(c, t);
                        return -errno;
                }
                c->retry_usec = 0;
                d->start += (size_t) n;
                if (t == RELAY_SIDE_UPSTREAM)
                        core->stats.bytes_to_upstream += (uint64_t) n;
                else
                        core->stats.bytes_to_client += (uint64_t) n;
        }
        direction_release_buffer(core, d);

        if (d->eof && !d->shut) {
                if (shutdown(c->fd[t], SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
                d->shut = true;
        }
        return 0;
}

/* Reads from fd[s] into its empty direction buffer: 1 data, 0 EOF or nothing yet. Never splice():
 * a fastpath socket read with splice() yields 0 bytes and the data is lost. */
static int connection_read(RelayConnection *c, int s)
{
        RelayDirection *d = &c->dir[s];
        RelayCore *core = c->core;
        ssize_t n;

        if (!d->buf) {
                d->buf = buffer_pool_get(&core->pool, 0);
                if (!d->buf)
                        return -ENOMEM;
        }
        n = recv(c->fd[s], d->buf, core->pool.buffer_size, MSG_DONTWAIT);
        if (n < 0) {
                /* a fastpath socket may be woken without data: EAGAIN on "readable" is normal */
                if (errno == EAGAIN || errno == EINTR) {
                        direction_release_buffer(core, d);
                        return 0;
                }
                return -errno;
        }
        if (n == 0) {
                d->eof = true;
                c->fin_seen[s] = true;
                direction_release_buffer(core, d);
                return 0;
        }
        d->start = 0;
        d->end = (size_t) n;
        return 1;
}

static bool connection_can_read(RelayConnection *c, int s)
{
        return !c->dir[s].eof && c->dir[s].start == c->dir[s].end;
}

static bool connection_has_pending(RelayConnection *c, int t)
{
        return c->dir[!t].start < c->dir[!t].end;
}

/* Watch only for what can make progress, so a full buffer or a finished side never spins the
 * loop. Frees the connection when both directions are done. */
static int connection_update(RelayConnection *c)
{
        bool lingering = c->dir[RELAY_SIDE_CLIENT].shut && c->dir[RELAY_SIDE_UPSTREAM].shut;
        int r;

        /* Both FINs passed on. While stopping we sent them first: wait for the peers' own FINs,
         * so that close() finds no unread data and sends no reset. */
        if (lingering && c->fin_seen[RELAY_SIDE_CLIENT] && c->fin_seen[RELAY_SIDE_UPSTREAM]) {
                log_debug("Relayed connection closed.");
                relay_connection_free(c);
                return 0;
        }
        for (int s = 0; s < 2; s++) {
                uint32_t events = 0;

                if (!c->io[s])
                        continue;
                if (lingering) {
                        if (!c->fin_seen[s])
                                events |= EPOLLIN;
                } else {
                        if (connection_can_read(c, s))
                                events |= EPOLLIN;
                        if (connection_has_pending(c, s) && !c->stalled[s])
                                events |= EPOLLOUT;
                }
                if (events == 0)
                        r = sd_event_source_set_enabled(c->io[s], SD_EVENT_OFF);
                else {
                        r = sd_event_source_set_io_events(c->io[s], events | CONNECTION_EPOLL_FLAGS);
                        if (r >= 0)
                                r = sd_event_source_set_enabled(c->io[s], SD_EVENT_ON);
                }
                if (r < 0)
                        return connection_abort(c, s, r);
        }
        return 0;
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_connect_timeout(sd_event_source *s, uint64_t usec, void *userdata);
static int connection_established(RelayConnection *c);

static void log_tunnel_failure(RelayCore *core, const struct sockaddr_storage *dst, UpstreamFailure f, int error,
                               bool going_direct)
{
        uint64_t now = 0;
        char a[80], why[80] = "", more[80] = "";

        (void) sd_event_now(core->event, CLOCK_MONOTONIC, &now);
        sockaddr_to_string(dst, a, sizeof(a));
        if (error != 0)
                snprintf(why, sizeof(why), ": %s", strerror(-error));
        if (core->upstream_logged_usec[f] != 0 && now < core->upstream_logged_usec[f] + UPSTREAM_LOG_INTERVAL_USEC) {
                core->upstream_suppressed[f]++;
                log_debug("Relayed connection to %s: upstream %s%s.", a, upstream_failure_to_string(f), why);
                return;
        }
        if (core->upstream_suppressed[f] > 0)
                snprintf(more, sizeof(more), ", %" PRIu64 " more of this kind since the last message",
                         core->upstream_suppressed[f]);
        log_warning("Relayed connection to %s: upstream %s%s (%s%s; such messages at most once a minute).",
                    a, upstream_failure_to_string(f), why, going_direct ? "going direct" : "client reset", more);
        core->upstream_logged_usec[f] = now ?: 1;
        core->upstream_suppressed[f] = 0;
}

/* Opens a socket with the bypass mark and starts connecting it to dst: a new fd, or -errno. */
static int connect_marked(RelayCore *core, const struct sockaddr_storage *dst, socklen_t len)
{
        _cleanup_close_ int fd = -EBADF;
        uint32_t mark = core->bypass_mark;
        int one = 1;

        fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
                return -errno;
        /* the bypass mark keeps the egress program from intercepting our own connection */
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (const struct sockaddr *) dst, len) < 0 && errno != EINPROGRESS)
                return -errno;
        return TAKE_FD(fd);
}

static socklen_t sockaddr_len(const struct sockaddr_storage *ss)
{
        return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The proxy failed us: count and log the cause, then reset the client, or go direct (once). */
static int connection_tunnel_failed(RelayConnection *c, UpstreamFailure f, int error)
{
        RelayCore *core = c->core;
        int fd, q;

        core->stats.upstream_failures[f]++;
        log_tunnel_failure(core, &c->dst, f, error,
                           core->upstream_fallback == UPSTREAM_FALLBACK_DIRECT && !c->fell_back);
        c->handshake = mfree_bzero(c->handshake);
        c->io[RELAY_SIDE_UPSTREAM] = sd_event_source_disable_unref(c->io[RELAY_SIDE_UPSTREAM]);
        c->fd[RELAY_SIDE_UPSTREAM] = safe_close(c->fd[RELAY_SIDE_UPSTREAM]);

        if (core->upstream_fallback == UPSTREAM_FALLBACK_DIRECT && !c->fell_back) {
                c->fell_back = true;
                core->stats.upstream_fallbacks++;
                fd = connect_marked(core, &c->dst, sockaddr_len(&c->dst));
                q = fd;
                if (fd >= 0) {
                        c->fd[RELAY_SIDE_UPSTREAM] = fd;
                        c->connecting = true;
                        q = sd_event_add_io(core->event, &c->io[RELAY_SIDE_UPSTREAM], fd,
                                            EPOLLOUT | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
                }
                if (q >= 0) {
                        c->timer = sd_event_source_disable_unref(c->timer);
                        q = sd_event_add_time_relative(core->event, &c->timer, CLOCK_MONOTONIC,
                                                       core->connect_timeout_usec, 0, on_connect_timeout, c);
                }
                if (q >= 0)
                        return 0;
                log_debug_errno(q, "Relayed connection: failed to go direct: %m");
        }
        core->stats.connect_failed++;
        if (f == UPSTREAM_FAILURE_TIMEOUT)
                core->stats.connect_timeouts++;
        core->stats.errors++;
        socket_set_linger_zero(c->fd[RELAY_SIDE_CLIENT]);
        relay_connection_free(c);
        return 0;
}

/* Sends what the handshake has queued and reads the proxy's answer, until the tunnel is open,
 * the proxy fails, or the socket would block (then waits for it, edge-triggered). Reads with
 * MSG_PEEK and takes only the reply's bytes: what the destination sends after it is the
 * client's, read by the relay once established. */
static int connection_handshake(RelayConnection *c)
{
        UpstreamHandshake *h = c->handshake;
        int fd = c->fd[RELAY_SIDE_UPSTREAM];
        uint8_t buf[UPSTREAM_HANDSHAKE_IN_MAX];
        size_t consumed;
        ssize_t n;
        int q;

        for (;;) {
                while (upstream_handshake_has_output(h)) {
                        n = send(fd, h->out + h->out_sent, h->out_len - h->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN) {
                                q = sd_event_source_set_io_events(c->io[RELAY_SIDE_UPSTREAM],
                                                                  EPOLLOUT | CONNECTION_EPOLL_FLAGS);
                                return q < 0 ? connection_tunnel_failed(c, UPSTREAM_FAILURE_UNREACHABLE, q) : 0;
                        }
                        if (n < 0)
                                return connection_tunnel_failed(c, UPSTREAM_FAILURE_PROTOCOL, -errno);
                        h->out_sent += (size_t) n;
                }
                n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        q = sd_event_source_set_io_events(c->io[RELAY_SIDE_UPSTREAM], EPOLLIN | CONNECTION_EPOLL_FLAGS);
                        return q < 0 ? connection_tunnel_failed(c, UPSTREAM_FAILURE_UNREACHABLE, q) : 0;
                }
                /* closed or reset before the answer was complete: not the protocol either */
                if (n < 0)
                        return connection_tunnel_failed(c, UPSTREAM_FAILURE_PROTOCOL, -errno);
                if (n == 0)
                        return connection_tunnel_failed(c, UPSTREAM_FAILURE_PROTOCOL, -ECONNRESET);
                q = upstream_handshake_feed(h, buf, (size_t) n, &consumed);
                if (consumed > 0 && recv(fd, buf, consumed, MSG_DONTWAIT) != (ssize_t) consumed)
                        return connection_tunnel_failed(c, UPSTREAM_FAILURE_PROTOCOL, -EIO);
                if (q < 0)
                        return connection_tunnel_failed(c, (UpstreamFailure) (-q - 1), 0);
                if (q > 0) {
                        c->handshake = mfree_bzero(c->handshake);
                        c->core->stats.upstream_tunnels++;
                        q = sd_event_source_set_io_events(c->io[RELAY_SIDE_UPSTREAM], EPOLLIN | CONNECTION_EPOLL_FLAGS);
                        if (q < 0)
                                return connection_abort(c, RELAY_SIDE_UPSTREAM, q);
                        return connection_established(c);
                }
        }
}

static int connection_connected(RelayConnection *c, uint32_t revents)
{
        RelayCore *core = c->core;
        socklen_t len = sizeof(int);
        int err = 0;

        if (getsockopt(c->fd[RELAY_SIDE_UPSTREAM], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == 0 && (revents & (EPOLLERR | EPOLLHUP)))
                err = ECONNREFUSED;
        if (err != 0 && c->handshake)
                return connection_tunnel_failed(c, UPSTREAM_FAILURE_UNREACHABLE, -err);
        if (err != 0) {
                core->stats.connect_failed++;
                core->stats.errors++;
                log_debug_errno(err, "Relayed connection: upstream connect failed: %m");
                socket_set_linger_zero(c->fd[RELAY_SIDE_CLIENT]);
                relay_connection_free(c);
                return 0;
        }

        c->connecting = false;
        if (c->handshake)
                return connection_handshake(c);
        return connection_established(c);
}

/* Connected to the original destination, or the tunnel to it is open: relay. */
static int connection_established(RelayConnection *c)
{
        RelayCore *core = c->core;
        int q;

        c->timer = sd_event_source_disable_unref(c->timer);
        q = sd_event_add_io(core->event, &c->io[RELAY_SIDE_CLIENT], c->fd[RELAY_SIDE_CLIENT],
                            EPOLLIN | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
        if (q < 0)
                return connection_abort(c, RELAY_SIDE_UPSTREAM, q);
        return connection_update(c);
}

/* Stopping, both FINs sent: read and drop until the peer's FIN (its data can go nowhere now). */
static int connection_discard(RelayConnection *c, int s)
{
        uint8_t buf[16384];
        ssize_t n;

        for (int i = 0; i < READ_BATCH; i++) {
                n = recv(c->fd[s], buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0) {
                        c->core->stats.discarded_bytes += (uint64_t) n;
                        continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                c->fin_seen[s] = true;  /* EOF, or a reset: nothing more will come */
                break;
        }
        return connection_update(c);
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        RelayConnection *c = userdata;
        int side = fd == c->fd[RELAY_SIDE_CLIENT] ? RELAY_SIDE_CLIENT : RELAY_SIDE_UPSTREAM;
        bool progress = false;
        int r;

        if (c->connecting)
                return connection_connected(c, revents);
        if (c->handshake)
                return connection_handshake(c);
        if (c->dir[RELAY_SIDE_CLIENT].shut && c->dir[RELAY_SIDE_UPSTREAM].shut)
                return connection_discard(c, side);

        if (connection_can_read(c, side) && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                /* Forward at once: most of the time the other socket takes it all, and then read
                 * again, a bounded number of times, to save event loop rounds on bulk streams. */
                for (int i = 0; i < READ_BATCH && connection_can_read(c, side); i++) {
                        r = connection_read(c, side);
                        if (r < 0)
                                return connection_abort(c, side, r);
                        if (r == 0 && !c->dir[side].eof)
                                break;  /* EAGAIN */
                        r = connection_write(c, !side);
                        if (r < 0)
                                return connection_abort(c, !side, r);
                }
                progress = true;
        }
        if (connection_has_pending(c, side) && (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
                r = connection_write(c, side);
                if (r < 0)
                        return connection_abort(c, side, r);
                progress = true;
        }
        if (!progress && (revents & (EPOLLHUP | EPOLLERR))) {
                /* broken while we wanted nothing from it: collect the reason and give up */
                socklen_t len = sizeof(int);
                int err = 0;

                (void) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                return connection_abort(c, side, err > 0 ? -err : -ECONNRESET);
        }
        return connection_update(c);
}

static int on_connect_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        RelayConnection *c = userdata;
        RelayCore *core = c->core;

        if (c->handshake)
                return connection_tunnel_failed(c, UPSTREAM_FAILURE_TIMEOUT, -ETIMEDOUT);
        core->stats.connect_timeouts++;
        core->stats.connect_failed++;
        core->stats.errors++;
        log_debug("Relayed connection: upstream connect timed out.");
        socket_set_linger_zero(c->fd[RELAY_SIDE_CLIENT]);
        relay_connection_free(c);
        return 0;
}

static void state_release(RelayCore *core, RelayConnectionState *state)
{
        for (int s = 0; s < 2; s++) {
                socket_set_linger_zero(state->fd[s]);
                state->fd[s] = safe_close(state->fd[s]);
                buffer_pool_put(&core->pool, TAKE_PTR(state->pending[s]));
                state->n_pending[s] = 0;
        }
}

int relay_connection_new(RelayCore *core, RelayConnectionState *state)
{
        RelayConnection *c;
        int q;

        c = calloc(1, sizeof(RelayConnection));
        if (!c) {
                state_release(core, state);
                return -ENOMEM;
        }
        c->core = core;
        c->connecting = state->connecting;
        for (int s = 0; s < 2; s++) {
                c->fd[s] = TAKE_FD(state->fd[s]);
                c->dir[s] = (RelayDirection) {
                        .buf = TAKE_PTR(state->pending[s]),
                        .end = state->n_pending[s],
                        .eof = state->eof[s],
                        .shut = state->shut[s],
                };
                c->fin_seen[s] = state->eof[s];
                state->n_pending[s] = 0;
        }
        c->next = core->connections;
        if (c->next)
                c->next->prev = c;
        core->connections = c;
        core->stats.connections_active++;

        if (c->connecting) {
                q = sd_event_add_io(core->event, &c->io[RELAY_SIDE_UPSTREAM], c->fd[RELAY_SIDE_UPSTREAM],
                                    EPOLLOUT | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
                if (q >= 0)
                        q = sd_event_add_time_relative(core->event, &c->timer, CLOCK_MONOTONIC,
                                                       core->connect_timeout_usec, 0, on_connect_timeout, c);
        } else {
                q = 0;
                for (int s = 0; s < 2 && q >= 0; s++)
                        q = sd_event_add_io(core->event, &c->io[s], c->fd[s], EPOLLIN | CONNECTION_EPOLL_FLAGS,
                                            on_connection_io, c);
        }
        if (q < 0) {
                for (int s = 0; s < 2; s++)
                        socket_set_linger_zero(c->fd[s]);
                relay_connection_free(c);
                return q;
        }
        if (!c->connecting)
                (void) connection_update(c);
        return 0;
}

/* Counts client_fd, sets its options, and makes it a connection with upstream_fd connecting. */
static int connection_start(RelayCore *core, int client_fd, int upstream_fd, const struct sockaddr_storage *dst,
                            bool through)
{
        _cleanup_free_ UpstreamHandshake *h = NULL;
        RelayConnectionState state = {
                .fd = { client_fd, upstream_fd },
                .connecting = true,
        };
        int one = 1, q;

        core->stats.connections_total++;
        (void) setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* The client is local, but its FIN or reset may never reach us: while its interface is not
         * intercepted (removed from management, or recreated and not yet attached) its packets go
         * out directly, the world resets it, and this connection would wait for ever. A probe
         * from this socket then meets no socket and gets the reset that ends it. */
        set_client_keepalive(client_fd);

        if (through) {
                h = malloc(sizeof(UpstreamHandshake));
                q = h ? upstream_handshake_init(h, &core->upstream, dst) : -ENOMEM;
                if (q < 0) {
                        state_release(core, &state);
                        return q;
                }
        }
        q = relay_connection_new(core, &state);
        if (q < 0)
                return q;
        /* connecting: never finished at once, the head of the list */
        core->connections->handshake = TAKE_PTR(h);
        core->connections->dst = *dst;
        return 0;
}

int relay_connection_through(RelayCore *core, int client_fd, int upstream_fd, const struct sockaddr_storage *dst)
{
        int q = connection_start(core, client_fd, upstream_fd, dst, true);

        if (q < 0) {
                core->stats.connect_failed++;
                core->stats.errors++;
        }
        return q;
}

int relay_connection_connect(RelayCore *core, int client_fd, const struct sockaddr_storage *dst, socklen_t len)
{
        bool through = core->upstream.type != UPSTREAM_DIRECT;
        int fd, q;
        char buf[80];

        log_debug("Relaying a connection to %s%s.", sockaddr_to_string(dst, buf, sizeof(buf)),
                  through ? " through the upstream proxy" : "");
        fd = through ? connect_marked(core, &core->upstream.address, core->upstream.address_len) :
                       connect_marked(core, dst, len);
        if (fd < 0 && through) {
                /* failing at once (no route to the proxy) */
                bool direct = core->upstream_fallback == UPSTREAM_FALLBACK_DIRECT;

                core->stats.upstream_failures[UPSTREAM_FAILURE_UNREACHABLE]++;
                log_tunnel_failure(core, dst, UPSTREAM_FAILURE_UNREACHABLE, fd, direct);
                if (direct) {
                        core->stats.upstream_fallbacks++;
                        through = false;
                        fd = connect_marked(core, dst, len);
                }
        }
        if (fd < 0) {
                q = fd;
                goto fail;
        }
        q = connection_start(core, client_fd, fd, dst, through);
        if (q < 0)
                goto fail_counted;
        return 0;

fail:
        core->stats.connections_total++;
        socket_set_linger_zero(client_fd);
        safe_close(client_fd);
fail_counted:
        core->stats.connect_failed++;
        core->stats.errors++;
        log_debug_errno(q, "Failed to connect to %s: %m", sockaddr_to_string(dst, buf, sizeof(buf)));
        return q;
}

void relay_connection_begin_close(RelayConnection *c)
{
        RelayCore *core = c->core;
        int q;

        if (c->connecting || c->handshake) {
                c->connecting = false;
                c->handshake = mfree_bzero(c->handshake);
                c->timer = sd_event_source_disable_unref(c->timer);
                c->io[RELAY_SIDE_UPSTREAM] = sd_event_source_disable_unref(c->io[RELAY_SIDE_UPSTREAM]);
                c->fd[RELAY_SIDE_UPSTREAM] = safe_close(c->fd[RELAY_SIDE_UPSTREAM]);
                c->fin_seen[RELAY_SIDE_UPSTREAM] = true;
                c->dir[RELAY_SIDE_CLIENT].shut = true;
                q = sd_event_add_io(core->event, &c->io[RELAY_SIDE_CLIENT], c->fd[RELAY_SIDE_CLIENT],
                                    EPOLLIN | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
                if (q < 0) {
                        connection_abort(c, RELAY_SIDE_UPSTREAM, q);
                        return;
                }
        }
        for (int s = 0; s < 2; s++)
                c->dir[s].eof = true;
        for (int t = 0; t < 2; t++) {
                if (c->fd[t] < 0)
                        continue;
                q = connection_write(c, t);
                if (q < 0) {
                        connection_abort(c, t, q);
                        return;
                }
        }
        (void) connection_update(c);
}

void relay_connection_get_state(RelayConnection *c, RelayConnectionState *ret)
{
        *ret = (RelayConnectionState) { .connecting = c->connecting };
        for (int s = 0; s < 2; s++) {
                ret->fd[s] = c->fd[s];
                ret->eof[s] = c->dir[s].eof;
                ret->shut[s] = c->dir[s].shut;
                ret->pending[s] = c->dir[s].buf ? c->dir[s].buf + c->dir[s].start : NULL;
                ret->n_pending[s] = c->dir[s].end - c->dir[s].start;
        }
}

void relay_connection_reset(RelayConnection *c)
{
        for (int s = 0; s < 2; s++)
                socket_set_linger_zero(c->fd[s]);
        relay_connection_free(c);
}

bool relay_connection_opening_tunnel(RelayConnection *c)
{
        return c->handshake;
}

RelayConnection *relay_connection_next(RelayConnection *c)
{
        return c ? c->next : NULL;
}
