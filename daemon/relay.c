/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/param.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "datapath.h"
#include "handover.h"
#include "relay.h"

#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

#define LISTEN_BACKLOG 4096
#define MAX_LISTENERS 8
#define ACCEPT_BATCH 64
#define READ_BATCH 8
#define ACCEPT_RETRY_USEC (100 * 1000ULL)
/* Spare buffers kept for reuse; idle connections hold none. */
#define MAX_FREE_BUFFERS 64
#define HANDOVER_LISTENER_NAME HANDOVER_PREFIX "relay-listener"
/* Connection sockets are edge-triggered and re-armed by every connection_update(). sd-event calls
 * epoll_wait() once per dispatched source, and that call polls every level-triggered socket that
 * is still ready: with thousands of busy connections each dispatch cost O(ready sockets) and the
 * relay crawled (10,000 connections echoing at once, tests/soak/test-load.sh). Re-arming keeps
 * the level-triggered logic below: for EPOLLET sd-event never skips the epoll_ctl(MOD), and MOD
 * queues the socket again if it is still ready. */
#define CONNECTION_EPOLL_FLAGS EPOLLET
/* Keepalive on the client's side, see relay_start_connection(): a vanished client is noticed
 * within IDLE + INTERVAL * COUNT seconds of silence. */
#define CLIENT_KEEPALIVE_IDLE_SEC 60
#define CLIENT_KEEPALIVE_INTERVAL_SEC 10
#define CLIENT_KEEPALIVE_COUNT 3

enum {
        SIDE_CLIENT,
        SIDE_UPSTREAM,
};

/* Bytes read from one socket and not yet written to the other. */
typedef struct RelayDirection {
        uint8_t *buf;               /* NULL while empty */
        size_t start, end;
        bool eof;                   /* the reading socket saw EOF */
        bool shut;                  /* ... and it was passed on with shutdown(SHUT_WR) */
} RelayDirection;

typedef struct RelayConnection RelayConnection;
struct RelayConnection {
        Relay *relay;
        RelayConnection *prev, *next;
        int fd[2];                  /* SIDE_CLIENT: accepted, SIDE_UPSTREAM: to the original destination */
        sd_event_source *io[2];
        sd_event_source *timer;     /* connect timeout */
        RelayDirection dir[2];      /* dir[s]: read from fd[s], written to fd[!s] */
        bool connecting;
        bool fin_seen[2];           /* fd[s] returned EOF (or failed); stopping, we FIN first and
                                     * wait for these before closing (connection_begin_close()) */
        bool stalled[2];            /* a write to fd[t] failed with ENOMEM: retried by a timer */
        sd_event_source *retry;
        uint64_t retry_usec;
};

typedef struct RelayListener {
        int fd;
        sd_event_source *source;
        struct sockaddr_storage addr;
        bool own;                   /* opened by us, not passed by the socket unit */
} RelayListener;

struct Relay {
        sd_event *event;
        uint32_t bypass_mark;
        uint16_t listen_port;
        uint64_t connect_timeout_usec;
        size_t buffer_size;
        uint32_t max_connections;

        RelayListener listeners[MAX_LISTENERS];
        size_t n_listeners;
        bool accept_enabled;
        sd_event_source *accept_retry;  /* pause after EMFILE and friends */

        RelayConnection *connections;
        bool stopping;              /* draining or handed over: never accept again */
        sd_event_source *drain_timer;
        relay_drained_t drained;
        void *drained_userdata;
        uint8_t *free_buffers[MAX_FREE_BUFFERS];
        size_t n_free_buffers;
        RelayStatistics stats;
};

static const char *sockaddr_to_string(const struct sockaddr_storage *ss, char *buf, size_t n)
{
        char a[INET6_ADDRSTRLEN] = "?";

        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;

                inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
                snprintf(buf, n, "%s:%u", a, ntohs(sin->sin_port));
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

                inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
                snprintf(buf, n, "[%s]:%u", a, ntohs(sin6->sin6_port));
        } else
                snprintf(buf, n, "(family %u)", ss->ss_family);
        return buf;
}

/* A dual-stack listener reports IPv4 flows as ::ffff:a.b.c.d; connect to them as IPv4. */
static void sockaddr_fold_v4mapped(struct sockaddr_storage *ss, socklen_t *len)
{
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
        struct sockaddr_in sin = { .sin_family = AF_INET };

        if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
                return;
        sin.sin_port = sin6->sin6_port;
        memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, &sin, sizeof(sin));
        *len = sizeof(sin);
}

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
        if (ss->ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *) ss)->sin_port);
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
        return 0;
}

static bool sockaddr_is_any(const struct sockaddr_storage *ss)
{
        if (ss->ss_family == AF_INET)
                return ((const struct sockaddr_in *) ss)->sin_addr.s_addr == htonl(INADDR_ANY);
        if (ss->ss_family == AF_INET6)
                return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *) ss)->sin6_addr);
        return false;
}

static bool sockaddr_same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        if (a->ss_family == AF_INET6)
                return IN6_ARE_ADDR_EQUAL(&((const struct sockaddr_in6 *) a)->sin6_addr,
                                          &((const struct sockaddr_in6 *) b)->sin6_addr);
        return false;
}

/* A connection made straight to the listener (not intercepted) has the listener's own address as
 * its "original destination": relaying it would connect to ourselves, again and again. */
static bool relay_is_own_address(Relay *r, const struct sockaddr_storage *dst)
{
        for (size_t i = 0; i < r->n_listeners; i++) {
                const struct sockaddr_storage *l = &r->listeners[i].addr;

                if (sockaddr_port(l) == sockaddr_port(dst) &&
                    (sockaddr_is_any(l) || sockaddr_same_address(l, dst)))
                        return true;
        }
        return false;
}

static uint8_t *buffer_get(Relay *r)
{
        if (r->n_free_buffers > 0)
                return r->free_buffers[--r->n_free_buffers];
        return malloc(r->buffer_size);
}

static void direction_release_buffer(Relay *r, RelayDirection *d)
{
        if (d->buf) {
                if (r->n_free_buffers < MAX_FREE_BUFFERS)
                        r->free_buffers[r->n_free_buffers++] = d->buf;
                else
                        free(d->buf);
                d->buf = NULL;
        }
        d->start = d->end = 0;
}

static void set_linger_zero(int fd)
{
        struct linger l = { .l_onoff = 1, .l_linger = 0 };

        /* close() then sends a reset instead of a FIN */
        (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
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

static void relay_update_accept(Relay *r);

static RelayConnection *connection_free(RelayConnection *c)
{
        Relay *r;

        if (!c)
                return NULL;
        r = c->relay;
        for (int s = 0; s < 2; s++) {
                sd_event_source_disable_unref(c->io[s]);
                safe_close(c->fd[s]);
                direction_release_buffer(r, &c->dir[s]);
        }
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->retry);

        if (c->prev)
                c->prev->next = c->next;
        else
                r->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        r->stats.connections_active--;
        free(c);

        relay_update_accept(r);
        if (!r->connections && r->drained) {
                relay_drained_t cb = TAKE_PTR(r->drained);

                r->drain_timer = sd_event_source_disable_unref(r->drain_timer);
                cb(r, r->drained_userdata);
        }
        return NULL;
}

/* Side `side` failed (reset, or an error): pass a reset on to the other side and drop both. */
static int connection_abort(RelayConnection *c, int side, int error)
{
        Relay *r = c->relay;

        /* ETIMEDOUT here is the client-side keepalive giving up on a peer that vanished unseen
         * (e.g. its FIN left directly while its link was not intercepted): a reset, not a failure */
        if (error == -ECONNRESET || error == -EPIPE || error == -ETIMEDOUT)
                r->stats.resets++;
        else
                r->stats.errors++;
        log_debug_errno(error, "Relayed connection: %s side failed, resetting the %s side: %m",
                        side == SIDE_CLIENT ? "client" : "upstream",
                        side == SIDE_CLIENT ? "upstream" : "client");
        if (c->fd[!side] >= 0)
                set_linger_zero(c->fd[!side]);
        connection_free(c);
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
 * kernel does not wake us when the peer reads. Retry on a timer, backing off to 200 ms. */
static int connection_stall(RelayConnection *c, int t)
{
        Relay *r = c->relay;
        int q;

        c->stalled[t] = true;
        c->retry_usec = c->retry_usec ? MIN(c->retry_usec * 2, 200 * 1000ULL) : 5 * 1000ULL;
        if (!c->retry)
                q = sd_event_add_time_relative(r->event, &c->retry, CLOCK_MONOTONIC, c->retry_usec, 0,
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
        Relay *r = c->relay;
        ssize_t n;

        while (d->start < d->end) {
                n = send(c->fd[t], d->buf + d->start, d->end - d->start, MSG_NOSIGNAL | MSG_DONTWAIT);
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
                if (t == SIDE_UPSTREAM)
                        r->stats.bytes_to_upstream += (uint64_t) n;
                else
                        r->stats.bytes_to_client += (uint64_t) n;
        }
        direction_release_buffer(r, d);

        if (d->eof && !d->shut) {
                if (shutdown(c->fd[t], SHUT_WR) < 0 && errno != ENOTCONN)
                        return -errno;
                d->shut = true;
        }
        return 0;
}

/* Reads from fd[s] into its empty direction buffer: 1 data, 0 EOF or nothing yet. Never splice():
 * a fastpath socket read with splice() yields 0 bytes and the data is lost (DESIGN.md). */
static int connection_read(RelayConnection *c, int s)
{
        RelayDirection *d = &c->dir[s];
        Relay *r = c->relay;
        ssize_t n;

        if (!d->buf) {
                d->buf = buffer_get(r);
                if (!d->buf)
                        return -ENOMEM;
        }
        n = recv(c->fd[s], d->buf, r->buffer_size, MSG_DONTWAIT);
        if (n < 0) {
                /* a fastpath socket may be woken without data: EAGAIN on "readable" is normal */
                if (errno == EAGAIN || errno == EINTR) {
                        direction_release_buffer(r, d);
                        return 0;
                }
                return -errno;
        }
        if (n == 0) {
                d->eof = true;
                c->fin_seen[s] = true;
                direction_release_buffer(r, d);
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

/* Level-triggered: watch only for what can make progress, so a full buffer or a finished side
 * never spins the loop. Frees the connection when both directions are done. */
static int connection_update(RelayConnection *c)
{
        bool lingering = c->dir[SIDE_CLIENT].shut && c->dir[SIDE_UPSTREAM].shut;
        int r;

        /* Both FINs passed on. While stopping we sent them first: wait for the peers' own FINs,
         * so that close() finds no unread data and sends no reset. */
        if (lingering && c->fin_seen[SIDE_CLIENT] && c->fin_seen[SIDE_UPSTREAM]) {
                log_debug("Relayed connection closed.");
                connection_free(c);
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

static int connection_connected(RelayConnection *c, uint32_t revents)
{
        Relay *r = c->relay;
        socklen_t len = sizeof(int);
        int err = 0, q;

        if (getsockopt(c->fd[SIDE_UPSTREAM], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == 0 && (revents & (EPOLLERR | EPOLLHUP)))
                err = ECONNREFUSED;
        if (err != 0) {
                r->stats.connect_failed++;
                r->stats.errors++;
                log_debug_errno(err, "Relayed connection: upstream connect failed: %m");
                set_linger_zero(c->fd[SIDE_CLIENT]);
                connection_free(c);
                return 0;
        }

        c->connecting = false;
        c->timer = sd_event_source_disable_unref(c->timer);
        q = sd_event_add_io(r->event, &c->io[SIDE_CLIENT], c->fd[SIDE_CLIENT],
                           EPOLLIN | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
        if (q < 0)
                return connection_abort(c, SIDE_UPSTREAM, q);
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
                        c->relay->stats.discarded_bytes += (uint64_t) n;
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
        int side = fd == c->fd[SIDE_CLIENT] ? SIDE_CLIENT : SIDE_UPSTREAM;
        bool progress = false;
        int r;

        if (c->connecting)
                return connection_connected(c, revents);
        if (c->dir[SIDE_CLIENT].shut && c->dir[SIDE_UPSTREAM].shut)
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
        Relay *r = c->relay;

        r->stats.connect_timeouts++;
        r->stats.connect_failed++;
        r->stats.errors++;
        log_debug("Relayed connection: upstream connect timed out.");
        set_linger_zero(c->fd[SIDE_CLIENT]);
        connection_free(c);
        return 0;
}

static void relay_start_connection(Relay *r, int client_fd)
{
        _cleanup_close_ int fd = client_fd;
        struct sockaddr_storage dst = {};
        socklen_t len = sizeof(dst);
        RelayConnection *c;
        char buf[80];
        int one = 1, q;
        uint32_t mark = r->bypass_mark;

        if (getsockname(fd, (struct sockaddr *) &dst, &len) < 0) {
                r->stats.errors++;
                log_debug_errno(errno, "Failed to read the original destination, ignoring: %m");
                return;
        }
        sockaddr_fold_v4mapped(&dst, &len);
        if (relay_is_own_address(r, &dst)) {
                r->stats.rejected++;
                r->stats.errors++;
                log_debug("Refusing a connection made directly to the listener %s.",
                          sockaddr_to_string(&dst, buf, sizeof(buf)));
                set_linger_zero(fd);
                return;
        }

        c = calloc(1, sizeof(RelayConnection));
        if (!c) {
                r->stats.errors++;
                set_linger_zero(fd);
                log_oom();
                return;
        }
        c->relay = r;
        c->fd[SIDE_CLIENT] = TAKE_FD(fd);
        c->fd[SIDE_UPSTREAM] = -EBADF;
        c->connecting = true;
        c->next = r->connections;
        if (c->next)
                c->next->prev = c;
        r->connections = c;
        r->stats.connections_active++;
        r->stats.connections_total++;

        (void) setsockopt(c->fd[SIDE_CLIENT], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* The client is local, but its FIN or reset may never reach us: while its interface is not
         * intercepted (removed from management, or recreated and not yet attached) its packets go
         * out directly, the world resets it, and this connection would wait for ever. A probe
         * from this socket then meets no socket and gets the reset that ends it. */
        set_client_keepalive(c->fd[SIDE_CLIENT]);
        c->fd[SIDE_UPSTREAM] = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (c->fd[SIDE_UPSTREAM] < 0) {
                q = -errno;
                goto fail;
        }
        /* the bypass mark keeps the egress program from intercepting our own connection */
        if (setsockopt(c->fd[SIDE_UPSTREAM], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
                q = -errno;
                goto fail;
        }
        (void) setsockopt(c->fd[SIDE_UPSTREAM], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

        log_debug("Relaying a connection to %s.", sockaddr_to_string(&dst, buf, sizeof(buf)));
        if (connect(c->fd[SIDE_UPSTREAM], (struct sockaddr *) &dst, len) < 0 && errno != EINPROGRESS) {
                q = -errno;
                goto fail;
        }
        q = sd_event_add_io(r->event, &c->io[SIDE_UPSTREAM], c->fd[SIDE_UPSTREAM],
                           EPOLLOUT | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
        if (q < 0)
                goto fail;
        q = sd_event_add_time_relative(r->event, &c->timer, CLOCK_MONOTONIC, r->connect_timeout_usec, 0,
                                       on_connect_timeout, c);
        if (q < 0)
                goto fail;
        return;

fail:
        r->stats.connect_failed++;
        r->stats.errors++;
        log_debug_errno(q, "Failed to connect to %s: %m", sockaddr_to_string(&dst, buf, sizeof(buf)));
        set_linger_zero(c->fd[SIDE_CLIENT]);
        connection_free(c);
}

static void relay_set_accept(Relay *r, bool enabled)
{
        if (r->accept_enabled == enabled)
                return;
        for (size_t i = 0; i < r->n_listeners; i++) {
                int q = sd_event_source_set_enabled(r->listeners[i].source, enabled ? SD_EVENT_ON : SD_EVENT_OFF);

                if (q < 0)
                        log_warning_errno(q, "Failed to %s accepting, ignoring: %m", enabled ? "resume" : "pause");
        }
        r->accept_enabled = enabled;
}

/* Accept while under MaxConnections and not backing off; excess connections wait in the
 * kernel's backlog. */
static void relay_update_accept(Relay *r)
{
        relay_set_accept(r, !r->stopping && !r->accept_retry &&
                         r->stats.connections_active < r->max_connections);
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        Relay *r = userdata;

        r->accept_retry = sd_event_source_unref(r->accept_retry);
        relay_update_accept(r);
        return 0;
}

static int on_listener(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Relay *r = userdata;
        int cfd, q;

        for (int i = 0; i < ACCEPT_BATCH; i++) {
                if (r->stats.connections_active >= r->max_connections) {
                        relay_update_accept(r);
                        return 0;
                }
                cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        if (errno == ECONNABORTED || errno == EPROTO || errno == EPERM)
                                continue;
                        /* EMFILE, ENFILE, ENOBUFS, ENOMEM: back off instead of spinning */
                        r->stats.errors++;
                        log_warning_errno(errno, "Failed to accept a connection, pausing for 100ms: %m");
                        q = sd_event_add_time_relative(r->event, &r->accept_retry, CLOCK_MONOTONIC,
                                                       ACCEPT_RETRY_USEC, 0, on_accept_retry, r);
                        if (q < 0)
                                log_warning_errno(q, "Failed to arm the accept retry timer, ignoring: %m");
                        else
                                (void) sd_event_source_set_enabled(r->accept_retry, SD_EVENT_ONESHOT);
                        relay_update_accept(r);
                        return 0;
                }
                relay_start_connection(r, cfd);
        }
        return 0;
}

static int set_transparent(int fd, int family)
{
        int one = 1;

        /* IPV6_TRANSPARENT sets the same socket flag, so a dual-stack socket gets IPv4 too */
        if (family == AF_INET6)
                return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0 ? -errno : 0;
        return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ? -errno : 0;
}

static int relay_add_listener(Relay *r, int fd, bool own)
{
        RelayListener *l = &r->listeners[r->n_listeners];
        socklen_t len = sizeof(l->addr);
        char buf[80];
        int q;

        if (getsockname(fd, (struct sockaddr *) &l->addr, &len) < 0)
                return log_error_errno(errno, "Failed to read the listener's address: %m");
        sockaddr_fold_v4mapped(&l->addr, &len);
        /* own, passed by systemd or handed over: the sockets every listener accepts inherit the
         * mark and so become fastpath receivers (skfastpathd(8), HAZARDS) */
        q = datapath_listener_set_mark(fd, r->bypass_mark);
        if (q < 0)
                return log_error_errno(q, "Failed to set the bypass mark on the listener: %m");
        q = sd_event_add_io(r->event, &l->source, fd, EPOLLIN, on_listener, r);
        if (q < 0)
                return log_error_errno(q, "Failed to watch the listener: %m");
        l->fd = fd;
        l->own = own;
        r->n_listeners++;
        log_info("Relay listening on %s.", sockaddr_to_string(&l->addr, buf, sizeof(buf)));
        return 0;
}

static int open_listener(Relay *r, int family)
{
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage ss = {};
        socklen_t len;
        int one = 1, q;

        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

                sin->sin_family = AF_INET;
                sin->sin_port = htons(r->listen_port);
                sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(r->listen_port);
                sin6->sin6_addr = in6addr_loopback;
                len = sizeof(*sin6);
        }

        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return -errno;
        if (family == AF_INET6 && setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
                return -errno;
        q = set_transparent(fd, family);
        if (q < 0)
                return log_error_errno(q, "Failed to make the listener transparent (needs CAP_NET_ADMIN): %m");
        if (bind(fd, (struct sockaddr *) &ss, len) < 0)
                return -errno;
        if (listen(fd, LISTEN_BACKLOG) < 0)
                return -errno;
        q = relay_add_listener(r, fd, true);
        if (q < 0)
                return q;
        TAKE_FD(fd);
        return 0;
}

/* Sockets from systemd (skfastpathd.socket, Transparent=yes): take every listening TCP socket. */
static int relay_take_passed(Relay *r, int *fds, size_t n)
{
        int q;

        log_info("Using the %zu socket(s) passed by systemd.", n);

        for (size_t i = 0; i < n; i++) {
                struct sockaddr_storage ss = {};
                socklen_t len = sizeof(ss);
                int fd = TAKE_FD(fds[i]);

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
                    getsockname(fd, (struct sockaddr *) &ss, &len) < 0 ||
                    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
                        log_warning("Passed file descriptor %d is not a listening TCP socket, closing it.", fd);
                        safe_close(fd);
                        continue;
                }
                if (r->n_listeners >= MAX_LISTENERS) {
                        log_warning("More than %d listening sockets passed, closing fd %d.", MAX_LISTENERS, fd);
                        safe_close(fd);
                        continue;
                }
                if (sockaddr_port(&ss) != r->listen_port)
                        log_warning("Passed listening socket on port %u is not ListenPort=%u: intercepted "
                                    "connections are steered to port %u.", sockaddr_port(&ss), r->listen_port,
                                    r->listen_port);
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                        q = log_error_errno(errno, "Failed to make passed socket %d non-blocking: %m", fd);
                        safe_close(fd);
                        return q;
                }
                q = set_transparent(fd, ss.ss_family);
                if (q < 0)
                        log_warning_errno(q, "Failed to make passed socket %d transparent, ignoring "
                                          "(set Transparent=yes in the socket unit): %m", fd);
                q = relay_add_listener(r, fd, false);
                if (q < 0) {
                        safe_close(fd);
                        return q;
                }
        }
        if (r->n_listeners == 0)
                return log_error_errno(EBADF, "None of the %zu passed file descriptors is a listening TCP socket.", n);
        return 0;
}

/* Each relayed connection holds two sockets: raise the soft limit as far as the hard one goes. */
static void bump_nofile(uint32_t max_connections)
{
        uint64_t want = 2 * (uint64_t) max_connections + 64;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
                (void) getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur < want)
                log_warning("The file descriptor limit %llu is below the %llu that MaxConnections=%u needs.",
                            (unsigned long long) rl.rlim_cur, (unsigned long long) want, max_connections);
}

static void close_all(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}

/* ---- stopping: a clean end for every relayed connection ---- */

/* Flush what was read, FIN both sides, then read and drop until their FINs (connection_update()
 * frees it then). A connection still connecting upstream only gets its client side FINed. */
static void connection_begin_close(RelayConnection *c)
{
        Relay *r = c->relay;
        int q;

        if (c->connecting) {
                c->connecting = false;
                c->timer = sd_event_source_disable_unref(c->timer);
                c->io[SIDE_UPSTREAM] = sd_event_source_disable_unref(c->io[SIDE_UPSTREAM]);
                c->fd[SIDE_UPSTREAM] = safe_close(c->fd[SIDE_UPSTREAM]);
                c->fin_seen[SIDE_UPSTREAM] = true;
                c->dir[SIDE_CLIENT].shut = true;
                q = sd_event_add_io(r->event, &c->io[SIDE_CLIENT], c->fd[SIDE_CLIENT],
                                    EPOLLIN | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
                if (q < 0) {
                        connection_abort(c, SIDE_UPSTREAM, q);
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

static void relay_close_own_listeners(Relay *r)
{
        size_t j = 0;

        for (size_t i = 0; i < r->n_listeners; i++) {
                if (r->listeners[i].own) {
                        sd_event_source_disable_unref(r->listeners[i].source);
                        safe_close(r->listeners[i].fd);
                        continue;
                }
                r->listeners[j++] = r->listeners[i];
        }
        r->n_listeners = j;
}

static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Relay *r = userdata;

        log_warning("%" PRIu64 " relayed connection(s) did not close in time, closing them as they are.",
                    r->stats.connections_active);
        /* the last one calls drained() */
        while (r->connections)
                connection_free(r->connections);
        return 0;
}

int relay_drain(Relay *r, uint64_t timeout_usec, relay_drained_t drained, void *userdata)
{
        RelayConnection *c, *next;
        int q;

        if (!r)
                return 1;
        r->stopping = true;
        relay_set_accept(r, false);
        /* new connections go direct instead of waiting in a backlog nobody accepts from */
        relay_close_own_listeners(r);

        if (r->connections)
                log_info("Closing %" PRIu64 " relayed connection(s): flushing, then FIN to both sides.",
                         r->stats.connections_active);
        for (c = r->connections; c; c = next) {
                next = c->next;
                connection_begin_close(c);
        }
        if (!r->connections)
                return 1;

        r->drained = drained;
        r->drained_userdata = userdata;
        q = sd_event_add_time_relative(r->event, &r->drain_timer, CLOCK_MONOTONIC, timeout_usec, 0,
                                       on_drain_timeout, r);
        if (q < 0) {
                log_warning_errno(q, "Failed to arm the stop timer, closing relayed connections now: %m");
                r->drained = NULL;
                while (r->connections)
                        connection_free(r->connections);
                return 1;
        }
        return 0;
}

size_t relay_n_connections(Relay *r)
{
        return r ? (size_t) r->stats.connections_active : 0;
}

/* ---- the restart handover ----
 * The sockets of every relayed connection travel in flight on a unix socket (SCM_RIGHTS) whose
 * receiving end goes to the store: one store entry however many connections (systemd compares
 * each new entry with every stored one, which takes seconds for a few thousand). Their state
 * and unwritten bytes go in a memfd: a header, then per connection a record and its bytes; the
 * sockets arrive in the same order, client then upstream. */

#define HANDOVER_STATE_NAME HANDOVER_PREFIX "relay-state"
#define HANDOVER_SOCKETS_NAME HANDOVER_PREFIX "relay-sockets"
#define HANDOVER_MAGIC "SKFPRLY1"
/* SCM_MAX_FD is 253: an even number of fds per message, a connection never spans two */
#define FDS_PER_MESSAGE 252
#define HANDOVER_MAX_PENDING (64 * 1024 * 1024)

enum {
        HANDOVER_CONNECTING = 1 << 0,
        HANDOVER_EOF_CLIENT = 1 << 1,    /* dir[SIDE_CLIENT].eof, ... */
        HANDOVER_SHUT_CLIENT = 1 << 2,
        HANDOVER_EOF_UPSTREAM = 1 << 3,
        HANDOVER_SHUT_UPSTREAM = 1 << 4,
};

typedef struct HandoverHeader {
        char magic[8];
        uint32_t n_connections;
        uint32_t pad;
} HandoverHeader;

typedef struct HandoverRecord {
        uint32_t flags;
        uint32_t pad;
        uint64_t pending[2];   /* unwritten bytes of dir[0] and dir[1], following the record */
} HandoverRecord;

static int write_all(int fd, const void *buf, size_t n)
{
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int pread_all(int fd, void *buf, size_t n, off_t *offset)
{
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = pread(fd, p, n, *offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EBADMSG;
                p += k;
                n -= (size_t) k;
                *offset += k;
        }
        return 0;
}

static int send_fds(int sock, const int *fds, size_t n)
{
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * FDS_PER_MESSAGE)];
        } control = {};
        char byte = 'S';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
        if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* Every fd in flight on sock, in order, until EOF. */
static int recv_fds(int sock, int **ret, size_t *ret_n)
{
        _cleanup_free_ int *fds = NULL;
        size_t n = 0;
        int r = 0;

        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int) * (FDS_PER_MESSAGE + 1))];
                } control = {};
                char byte;
                struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof(control.buf),
                };
                ssize_t k = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        /* EAGAIN: the writer did not close its end, it stopped half-way */
                        if (k < 0)
                                r = errno == EAGAIN ? -EBADMSG : -errno;
                        break;
                }
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                        size_t m;
                        int *a;

                        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                                continue;
                        m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        a = reallocarray(fds, n + m, sizeof(int));
                        if (!a) {
                                int tmp[FDS_PER_MESSAGE + 1];

                                memcpy(tmp, CMSG_DATA(cm), m * sizeof(int));
                                close_all(tmp, m);
                                r = -ENOMEM;
                                continue;
                        }
                        fds = a;
                        memcpy(fds + n, CMSG_DATA(cm), m * sizeof(int));
                        n += m;
                }
                if (mh.msg_flags & MSG_CTRUNC)
                        r = -EBADMSG;
        }
        *ret = TAKE_PTR(fds);
        *ret_n = n;
        return r;
}

unsigned relay_handover_size(Relay *r)
{
        unsigned n = 2;

        if (!r)
                return 0;
        for (size_t i = 0; i < r->n_listeners; i++)
                n += r->listeners[i].own;
        return n;
}

int relay_handover(Relay *r)
{
        _cleanup_close_ int state = -EBADF, tx = -EBADF, rx = -EBADF;
        HandoverHeader hdr = { .magic = HANDOVER_MAGIC };
        int sv[2], batch[FDS_PER_MESSAGE], q, sndbuf = 64 * 1024 * 1024;
        uint64_t buffered = 0;
        size_t n_batch = 0;

        if (!r)
                return 0;
        r->stopping = true;
        relay_set_accept(r, false);

        state = memfd_create(HANDOVER_STATE_NAME, MFD_CLOEXEC);
        if (state < 0)
                return log_error_errno(errno, "Failed to create the relay's handover memfd: %m");
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return log_error_errno(errno, "Failed to create the relay's handover socket: %m");
        tx = sv[0];
        rx = sv[1];
        /* a message per 126 connections; more than the default buffer holds beyond ~25,000 */
        (void) setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));

        for (RelayConnection *c = r->connections; c; c = c->next)
                hdr.n_connections++;
        q = write_all(state, &hdr, sizeof(hdr));
        if (q < 0)
                return log_error_errno(q, "Failed to write the relay's handover state: %m");

        for (RelayConnection *c = r->connections; c; c = c->next) {
                HandoverRecord rec = {
                        .flags = (c->connecting ? HANDOVER_CONNECTING : 0) |
                                 (c->dir[SIDE_CLIENT].eof ? HANDOVER_EOF_CLIENT : 0) |
                                 (c->dir[SIDE_CLIENT].shut ? HANDOVER_SHUT_CLIENT : 0) |
                                 (c->dir[SIDE_UPSTREAM].eof ? HANDOVER_EOF_UPSTREAM : 0) |
                                 (c->dir[SIDE_UPSTREAM].shut ? HANDOVER_SHUT_UPSTREAM : 0),
                };

                for (int s = 0; s < 2; s++)
                        rec.pending[s] = c->dir[s].end - c->dir[s].start;
                q = write_all(state, &rec, sizeof(rec));
                for (int s = 0; s < 2 && q >= 0; s++)
                        if (rec.pending[s] > 0)
                                q = write_all(state, c->dir[s].buf + c->dir[s].start, rec.pending[s]);
                if (q < 0)
                        return log_error_errno(q, "Failed to write the relay's handover state: %m");
                buffered += rec.pending[0] + rec.pending[1];

                batch[n_batch++] = c->fd[SIDE_CLIENT];
                batch[n_batch++] = c->fd[SIDE_UPSTREAM];
                if (n_batch == FDS_PER_MESSAGE) {
                        q = send_fds(tx, batch, n_batch);
                        if (q < 0)
                                return log_error_errno(q, "Failed to queue relayed sockets for the handover: %m");
                        n_batch = 0;
                }
        }
        if (n_batch > 0) {
                q = send_fds(tx, batch, n_batch);
                if (q < 0)
                        return log_error_errno(q, "Failed to queue relayed sockets for the handover: %m");
        }
        tx = safe_close(tx);   /* the reader sees EOF after the last one */

        q = handover_store(HANDOVER_STATE_NAME, state);
        if (q >= 0)
                q = handover_store(HANDOVER_SOCKETS_NAME, rx);
        for (size_t i = 0; i < r->n_listeners && q >= 0; i++)
                if (r->listeners[i].own)
                        q = handover_store(HANDOVER_LISTENER_NAME, r->listeners[i].fd);
        if (q < 0)
                return q;
        log_info("Handed %u relayed connection(s) with %" PRIu64 " unwritten bytes to the service manager.",
                 hdr.n_connections, buffered);
        return 0;
}

static uint8_t *buffer_for(Relay *r, size_t n)
{
        /* a smaller BufferSize= than before: this one buffer is as large as it must be (it joins
         * the pool afterwards, which only needs buffers at least buffer_size long) */
        return n <= r->buffer_size ? buffer_get(r) : malloc(n);
}

static int connection_take_over(Relay *r, int fds[2], const HandoverRecord *rec, int state, off_t *offset)
{
        RelayConnection *c;
        int q;

        c = calloc(1, sizeof(RelayConnection));
        if (!c)
                return -ENOMEM;
        c->relay = r;
        c->fd[SIDE_CLIENT] = TAKE_FD(fds[0]);
        c->fd[SIDE_UPSTREAM] = TAKE_FD(fds[1]);
        c->next = r->connections;
        if (c->next)
                c->next->prev = c;
        r->connections = c;
        r->stats.connections_active++;
        r->stats.taken_over++;

        c->connecting = rec->flags & HANDOVER_CONNECTING;
        c->dir[SIDE_CLIENT].eof = rec->flags & HANDOVER_EOF_CLIENT;
        c->dir[SIDE_CLIENT].shut = rec->flags & HANDOVER_SHUT_CLIENT;
        c->dir[SIDE_UPSTREAM].eof = rec->flags & HANDOVER_EOF_UPSTREAM;
        c->dir[SIDE_UPSTREAM].shut = rec->flags & HANDOVER_SHUT_UPSTREAM;
        for (int s = 0; s < 2; s++) {
                c->fin_seen[s] = c->dir[s].eof;
                if (rec->pending[s] == 0)
                        continue;
                c->dir[s].buf = buffer_for(r, rec->pending[s]);
                if (!c->dir[s].buf) {
                        connection_abort(c, s, -ENOMEM);
                        return -ENOMEM;
                }
                c->dir[s].end = rec->pending[s];
                q = pread_all(state, c->dir[s].buf, rec->pending[s], offset);
                if (q < 0) {
                        connection_abort(c, s, q);
                        return q;
                }
        }

        if (c->connecting) {
                q = sd_event_add_io(r->event, &c->io[SIDE_UPSTREAM], c->fd[SIDE_UPSTREAM],
                                    EPOLLOUT | CONNECTION_EPOLL_FLAGS, on_connection_io, c);
                if (q >= 0)
                        q = sd_event_add_time_relative(r->event, &c->timer, CLOCK_MONOTONIC,
                                                       r->connect_timeout_usec, 0, on_connect_timeout, c);
                if (q < 0)
                        connection_abort(c, SIDE_UPSTREAM, q);
                return 0;
        }
        for (int s = 0; s < 2; s++) {
                q = sd_event_add_io(r->event, &c->io[s], c->fd[s], EPOLLIN | CONNECTION_EPOLL_FLAGS,
                                    on_connection_io, c);
                if (q < 0) {
                        connection_abort(c, s, q);
                        return 0;
                }
        }
        (void) connection_update(c);
        return 0;
}

/* Errors are logged; sockets that cannot be taken over are closed (their peers see them end). */
static void relay_take_connections(Relay *r, Handover *h)
{
        _cleanup_close_ int state = handover_take(h, HANDOVER_STATE_NAME);
        _cleanup_close_ int sock = handover_take(h, HANDOVER_SOCKETS_NAME);
        _cleanup_free_ int *fds = NULL;
        HandoverHeader hdr = {};
        uint64_t buffered = 0;
        size_t n_fds = 0, i = 0;
        off_t offset = 0;
        int q;

        if (state < 0 && sock < 0)
                return;
        if (sock >= 0) {
                q = recv_fds(sock, &fds, &n_fds);
                if (q < 0)
                        log_warning_errno(q, "Failed to receive all handed over relayed sockets: %m");
        }
        if (state < 0 || sock < 0) {
                log_warning("Incomplete relay handover (no %s), closing %zu handed over socket(s).",
                            state < 0 ? "state" : "sockets", n_fds);
                goto close_rest;
        }
        q = pread_all(state, &hdr, sizeof(hdr), &offset);
        if (q < 0 || memcmp(hdr.magic, HANDOVER_MAGIC, sizeof(hdr.magic)) != 0 ||
            (size_t) hdr.n_connections * 2 != n_fds) {
                log_warning("Relay handover state does not match the %zu handed over socket(s), closing them.",
                            n_fds);
                goto close_rest;
        }
        for (i = 0; i < n_fds; i += 2) {
                HandoverRecord rec;

                q = pread_all(state, &rec, sizeof(rec), &offset);
                if (q < 0 || rec.pending[0] > HANDOVER_MAX_PENDING || rec.pending[1] > HANDOVER_MAX_PENDING) {
                        log_warning("Relay handover state is corrupt at connection %zu, closing the rest.", i / 2);
                        goto close_rest;
                }
                q = connection_take_over(r, fds + i, &rec, state, &offset);
                if (q < 0) {
                        log_warning_errno(q, "Failed to take over relayed connection %zu, closing the rest: %m",
                                          i / 2);
                        i += 2;
                        goto close_rest;
                }
                buffered += rec.pending[0] + rec.pending[1];
        }
        log_info("Took over %zu relayed connection(s) with %" PRIu64 " unwritten bytes from the previous "
                 "process.", n_fds / 2, buffered);
        return;

close_rest:
        if (i < n_fds)
                close_all(fds + i, n_fds - i);
}

int relay_new(Relay **ret, sd_event *event, const Config *c, Handover *h)
{
        _cleanup_(relay_freep) Relay *r = NULL;
        int passed[MAX_LISTENERS * 2], fd, q;
        size_t n = 0;

        /* the socket unit's listeners (a few more than we use, to say so) */
        while ((fd = handover_take_listener(h)) >= 0) {
                if (n < ELEMENTSOF(passed))
                        passed[n++] = fd;
                else {
                        log_warning("Too many file descriptors passed, closing fd %d.", fd);
                        safe_close(fd);
                }
        }

        if (!c->relay) {
                close_all(passed, n);
                if (n > 0)
                        log_warning("Relay=no: closed the %zu socket(s) systemd passed; the listener on port "
                                    "%u belongs to another program.", n, c->listen_port);
                *ret = NULL;
                return 0;
        }

        r = calloc(1, sizeof(Relay));
        if (!r) {
                close_all(passed, n);
                return log_oom();
        }
        r->event = sd_event_ref(event);
        r->bypass_mark = c->bypass_mark;
        r->listen_port = c->listen_port;
        r->connect_timeout_usec = c->connect_timeout_usec;
        r->buffer_size = (size_t) c->buffer_size;
        r->max_connections = c->max_connections;
        r->accept_enabled = true;
        bump_nofile(r->max_connections);

        if (n > 0) {
                q = relay_take_passed(r, passed, n);
                if (q < 0) {
                        close_all(passed, n);
                        return q;
                }
        }
        /* our own listeners of the previous process, which had no socket unit */
        while ((fd = handover_take(h, HANDOVER_LISTENER_NAME)) >= 0) {
                if (r->n_listeners >= MAX_LISTENERS || relay_add_listener(r, fd, true) < 0) {
                        safe_close(fd);
                        continue;
                }
        }
        if (r->n_listeners == 0) {
                q = open_listener(r, AF_INET);
                if (q < 0)
                        return log_error_errno(q, "Failed to listen on 127.0.0.1:%u: %m", r->listen_port);
                q = open_listener(r, AF_INET6);
                if (q == -EADDRNOTAVAIL || q == -EAFNOSUPPORT)
                        log_warning_errno(q, "Failed to listen on [::1]:%u, IPv6 is not relayed: %m",
                                          r->listen_port);
                else if (q < 0)
                        return log_error_errno(q, "Failed to listen on [::1]:%u: %m", r->listen_port);
        }

        relay_take_connections(r, h);

        *ret = TAKE_PTR(r);
        return 0;
}

Relay *relay_free(Relay *r)
{
        if (!r)
                return NULL;
        r->drained = NULL;
        while (r->connections)
                connection_free(r->connections);
        for (size_t i = 0; i < r->n_listeners; i++) {
                sd_event_source_disable_unref(r->listeners[i].source);
                safe_close(r->listeners[i].fd);
        }
        sd_event_source_disable_unref(r->accept_retry);
        sd_event_source_disable_unref(r->drain_timer);
        for (size_t i = 0; i < r->n_free_buffers; i++)
                free(r->free_buffers[i]);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

void relay_get_statistics(Relay *r, RelayStatistics *ret)
{
        *ret = r->stats;
}
