/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One relayed connection: two TCP sockets, the client's (accepted by the listener) and the
 * upstream one (to the client's original destination), copied both ways on sd-event through at
 * most one buffer per direction, with EOF (shutdown(SHUT_WR)) and resets (SO_LINGER 0) passed
 * on. A connection frees itself when both directions are done or a side fails; the RelayCore it
 * belongs to keeps the list, the buffer pool and the statistics, and is told of every close.
 *
 * What a connection owes its peers:
 * - the bytes read from one side are written to the other in order, none lost or added;
 * - EOF read from a side is passed on once everything before it is written;
 * - a reset or error on a side resets the other side;
 * - it reads no more than one buffer ahead of what the other side accepted;
 * - send() failing with ENOMEM (a fastpath socket whose peer's memory is used up: no wakeup
 *   follows) is retried on a timer, 5 ms doubling up to 200 ms (with sd-event's default
 *   accuracy, so a retry may come up to 250 ms later);
 * - a connect upstream that does not complete in connect_timeout_usec resets the client;
 * - with a proxy upstream (core->upstream), the connection goes to the proxy and opens a tunnel to
 *   the original destination (upstream.h) before any byte of the client's is read; connect plus
 *   handshake take at most connect_timeout_usec; a failure resets the client, or, with
 *   UPSTREAM_FALLBACK_DIRECT, connects it to the original destination instead (once). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "relay-buffer.h"
#include "relay.h"

enum {
        RELAY_SIDE_CLIENT,
        RELAY_SIDE_UPSTREAM,
};

typedef struct RelayConnection RelayConnection;
typedef struct RelayCore RelayCore;

/* What the connections of one relay share. Embedded in the Relay (or a test). */
struct RelayCore {
        sd_event *event;            /* a reference */
        uint32_t bypass_mark;       /* SO_MARK of upstream sockets */
        uint64_t connect_timeout_usec;
        Upstream upstream;          /* for new connections; UPSTREAM_DIRECT: none */
        UpstreamFallback upstream_fallback;
        uint64_t upstream_logged_usec[_UPSTREAM_FAILURE_MAX];      /* rate limit of the warnings */
        uint64_t upstream_suppressed[_UPSTREAM_FAILURE_MAX];
        BufferPool pool;
        RelayStatistics stats;      /* connections_active is the length of the list */
        RelayConnection *connections;
        /* after every connection freed (accept again, drain done); may be NULL */
        void (*closed)(RelayCore *core, void *userdata);
        void *userdata;
        /* send(2), which a test replaces to inject the ENOMEM of a fastpath socket */
        ssize_t (*send)(int fd, const void *buf, size_t n, int flags);
};

void relay_core_init(RelayCore *core, sd_event *event, size_t buffer_size, uint32_t bypass_mark,
                     uint64_t connect_timeout_usec);
/* Frees every connection as it is (no callback) and the pool. */
void relay_core_done(RelayCore *core);

/* A connection as it stands, the vocabulary of the constructor and of the restart handover.
 * Direction s carries what was read from fd[s] to fd[!s]. */
typedef struct RelayConnectionState {
        int fd[2];                  /* RELAY_SIDE_CLIENT, RELAY_SIDE_UPSTREAM */
        bool connecting;            /* fd[RELAY_SIDE_UPSTREAM] is connecting (non-blocking) */
        bool eof[2];                /* fd[s] returned EOF */
        bool shut[2];               /* ... and it was passed on to fd[!s] */
        uint8_t *pending[2];        /* read from fd[s], not yet written: a buffer of core->pool */
        size_t n_pending[2];
} RelayConnectionState;

/* The one constructor. Takes state's fds and buffers (state is left holding none), also on
 * failure, when both sockets are reset and closed; never counts a failure in the statistics
 * (the caller knows which). Both fds must be non-blocking stream sockets. The new connection
 * is the head of core->connections (unless it finished at once: both EOFs passed on). */
int relay_connection_new(RelayCore *core, RelayConnectionState *state);
/* Accepted client_fd whose original destination is dst: counts it, connects upstream with the
 * bypass mark, and starts relaying once connected. client_fd is taken; a failure is counted
 * (connect_failed) and resets the client. */
int relay_connection_connect(RelayCore *core, int client_fd, const struct sockaddr_storage *dst, socklen_t len);
/* The same with upstream_fd already connecting (or connected) to the proxy: opens the tunnel to
 * dst through core->upstream, which must not be direct (the unit tests use socketpairs). */
int relay_connection_through(RelayCore *core, int client_fd, int upstream_fd, const struct sockaddr_storage *dst);
/* Still connecting to the proxy or in the handshake: cannot be handed over on a restart. */
bool relay_connection_opening_tunnel(RelayConnection *c);
/* Resets both sides and frees c. */
void relay_connection_reset(RelayConnection *c);
/* Stopping: flush what was read, FIN both sides, then read and drop until their FINs (it frees
 * itself then). One still connecting upstream only gets its client side FINed. May free c. */
void relay_connection_begin_close(RelayConnection *c);
RelayConnection *relay_connection_free(RelayConnection *c);

/* Borrowed: the fds and buffers stay the connection's. */
void relay_connection_get_state(RelayConnection *c, RelayConnectionState *ret);
RelayConnection *relay_connection_next(RelayConnection *c);
