/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The relay's listeners (its own, passed by the socket unit, or handed over by the previous
 * process), the accept loop with its MaxConnections= limit and backoff, the drain on stop, and
 * the restart handover of our own listeners. The connections are relay-connection.c's, their
 * handover relay-handover.c's. */
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "datapath.h"
#include "handover.h"
#include "missing.h"
#include "relay-connection.h"
#include "relay-handover.h"
#include "relay.h"
#include "socket-util.h"

#define LISTEN_BACKLOG 4096
#define MAX_LISTENERS 8
#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_USEC (100 * 1000ULL)
#define HANDOVER_LISTENER_NAME HANDOVER_PREFIX "relay-listener"

typedef struct RelayListener {
        int fd;
        sd_event_source *source;
        struct sockaddr_storage addr;
        bool own;                   /* opened by us, not passed by the socket unit */
} RelayListener;

struct Relay {
        RelayCore core;             /* the connections, their buffers and the statistics */
        uint16_t listen_port;
        uint32_t max_connections;

        RelayListener listeners[MAX_LISTENERS];
        size_t n_listeners;
        bool accept_enabled;
        sd_event_source *accept_retry;  /* pause after EMFILE and friends */

        bool stopping;              /* draining or handed over: never accept again */
        sd_event_source *drain_timer;
        relay_drained_t drained;
        void *drained_userdata;
};

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

static void relay_update_accept(Relay *r);

/* A connection closed: room to accept again, or the drain is done. */
static void on_connection_closed(RelayCore *core, void *userdata)
{
        Relay *r = userdata;

        relay_update_accept(r);
        if (!core->connections && r->drained) {
                relay_drained_t cb = TAKE_PTR(r->drained);

                r->drain_timer = sd_event_source_disable_unref(r->drain_timer);
                cb(r, r->drained_userdata);
        }
}

static void relay_start_connection(Relay *r, int client_fd)
{
        _cleanup_close_ int fd = client_fd;
        struct sockaddr_storage dst = {};
        socklen_t len = sizeof(dst);
        char buf[80];

        if (getsockname(fd, (struct sockaddr *) &dst, &len) < 0) {
                r->core.stats.errors++;
                log_debug_errno(errno, "Failed to read the original destination, ignoring: %m");
                return;
        }
        sockaddr_fold_v4mapped(&dst, &len);
        if (relay_is_own_address(r, &dst)) {
                r->core.stats.rejected++;
                r->core.stats.errors++;
                log_debug("Refusing a connection made directly to the listener %s.",
                          sockaddr_to_string(&dst, buf, sizeof(buf)));
                socket_set_linger_zero(fd);
                return;
        }
        (void) relay_connection_connect(&r->core, TAKE_FD(fd), &dst, len);
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
                         r->core.stats.connections_active < r->max_connections);
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
                if (r->core.stats.connections_active >= r->max_connections) {
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
                        r->core.stats.errors++;
                        log_warning_errno(errno, "Failed to accept a connection, pausing for 100ms: %m");
                        q = sd_event_add_time_relative(r->core.event, &r->accept_retry, CLOCK_MONOTONIC,
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
        q = datapath_listener_set_mark(fd, r->core.bypass_mark);
        if (q < 0)
                return log_error_errno(q, "Failed to set the bypass mark on the listener: %m");
        q = sd_event_add_io(r->core.event, &l->source, fd, EPOLLIN, on_listener, r);
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

/* ---- stopping: a clean end for every relayed connection ---- */

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
                    r->core.stats.connections_active);
        /* the last one calls drained() */
        while (r->core.connections)
                relay_connection_free(r->core.connections);
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

        if (r->core.connections)
                log_info("Closing %" PRIu64 " relayed connection(s): flushing, then FIN to both sides.",
                         r->core.stats.connections_active);
        for (c = r->core.connections; c; c = next) {
                next = relay_connection_next(c);
                relay_connection_begin_close(c);
        }
        if (!r->core.connections)
                return 1;

        r->drained = drained;
        r->drained_userdata = userdata;
        q = sd_event_add_time_relative(r->core.event, &r->drain_timer, CLOCK_MONOTONIC, timeout_usec, 0,
                                       on_drain_timeout, r);
        if (q < 0) {
                log_warning_errno(q, "Failed to arm the stop timer, closing relayed connections now: %m");
                r->drained = NULL;
                while (r->core.connections)
                        relay_connection_free(r->core.connections);
                return 1;
        }
        return 0;
}

size_t relay_n_connections(Relay *r)
{
        return r ? (size_t) r->core.stats.connections_active : 0;
}

/* ---- the restart handover: the connections are relay-handover.c's, the listeners ours ---- */

unsigned relay_handover_size(Relay *r)
{
        unsigned n = RELAY_HANDOVER_N_ENTRIES;

        if (!r)
                return 0;
        for (size_t i = 0; i < r->n_listeners; i++)
                n += r->listeners[i].own;
        return n;
}

int relay_handover(Relay *r, HandoverStore *store)
{
        int q;

        if (!r)
                return 0;
        r->stopping = true;
        relay_set_accept(r, false);

        q = relay_connections_hand_over(&r->core, store);
        for (size_t i = 0; i < r->n_listeners && q >= 0; i++)
                if (r->listeners[i].own)
                        q = handover_store_add(store, HANDOVER_LISTENER_NAME, r->listeners[i].fd);
        return q;
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
                close_many(passed, n);
                if (n > 0)
                        log_warning("Relay=no: closed the %zu socket(s) systemd passed; the listener on port "
                                    "%u belongs to another program.", n, c->listen_port);
                *ret = NULL;
                return 0;
        }

        r = calloc(1, sizeof(Relay));
        if (!r) {
                close_many(passed, n);
                return log_oom();
        }
        relay_core_init(&r->core, event, (size_t) c->buffer_size, c->bypass_mark, c->connect_timeout_usec);
        r->core.closed = on_connection_closed;
        r->core.userdata = r;
        r->listen_port = c->listen_port;
        r->max_connections = c->max_connections;
        r->accept_enabled = true;
        bump_nofile(r->max_connections);

        if (n > 0) {
                q = relay_take_passed(r, passed, n);
                if (q < 0) {
                        close_many(passed, n);
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

        relay_connections_take_over(&r->core, h);

        *ret = TAKE_PTR(r);
        return 0;
}

Relay *relay_free(Relay *r)
{
        if (!r)
                return NULL;
        r->drained = NULL;
        relay_core_done(&r->core);
        for (size_t i = 0; i < r->n_listeners; i++) {
                sd_event_source_disable_unref(r->listeners[i].source);
                safe_close(r->listeners[i].fd);
        }
        sd_event_source_disable_unref(r->accept_retry);
        sd_event_source_disable_unref(r->drain_timer);
        free(r);
        return NULL;
}

void relay_get_statistics(Relay *r, RelayStatistics *ret)
{
        *ret = r->core.stats;
}

int relay_get_listen_address(Relay *r, char **ret)
{
        _cleanup_free_ char *s = NULL;
        size_t n = 0;

        for (size_t i = 0; i < r->n_listeners; i++) {
                char a[INET6_ADDRSTRLEN + 16];
                char *t;

                sockaddr_to_string(&r->listeners[i].addr, a, sizeof(a));
                t = realloc(s, n + strlen(a) + 2);
                if (!t)
                        return -ENOMEM;
                s = t;
                n += (size_t) sprintf(s + n, "%s%s", n > 0 ? " " : "", a);
        }
        *ret = s ? TAKE_PTR(s) : strdup("");
        return *ret ? 0 : -ENOMEM;
}
