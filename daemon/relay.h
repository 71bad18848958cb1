/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The transparent listener on 127.0.0.1 and ::1 at ListenPort, and the built-in relay: each
 * accepted connection is connected to its original destination (getsockname() of the accepted
 * socket) with SO_MARK = BypassMark and copied both ways on sd-event with bounded buffers. */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "upstream.h"
#include "util.h"

typedef struct Relay Relay;

typedef struct RelayStatistics {
        uint64_t connections_total;     /* accepted (not rejected): relayed or tried to */
        uint64_t connections_active;
        uint64_t bytes_to_upstream;     /* client -> original destination */
        uint64_t bytes_to_client;
        uint64_t connect_failed;        /* upstream refused, unreachable or timed out */
        uint64_t connect_timeouts;      /* ... of which timed out (ConnectTimeoutSec=) */
        uint64_t resets;                /* a reset, or a peer lost to keepalive, propagated to the other side */
        uint64_t rejected;              /* accepted but not intercepted (a direct connection to
                                         * the listener would relay to itself) */
        uint64_t errors;                /* every failure: connect_failed, rejected, socket errors */
        uint64_t discarded_bytes;       /* received while stopping, after our FIN: dropped */
        uint64_t taken_over;            /* connections handed over by the previous process */
        /* Upstream= a proxy: tunnels opened, failures by cause (each also in connect_failed,
         * connect_timeouts and errors when it reset the client), fallbacks to direct */
        uint64_t upstream_tunnels;
        uint64_t upstream_failures[_UPSTREAM_FAILURE_MAX];
        uint64_t upstream_fallbacks;
} RelayStatistics;

typedef struct Handover Handover;
typedef struct HandoverStore HandoverStore;

/* Takes the listening sockets systemd passed (h, may be NULL), else opens them. With Relay=no
 * the listener belongs to another program: passed sockets are closed, *ret is NULL. After a
 * restart it takes over the relayed connections (and listeners of its own) the previous process
 * handed over, with the bytes it had read and not yet written. */
int relay_new(Relay **ret, sd_event *event, const Config *c, Handover *h);
/* Closes the listeners and every relayed connection (as they are: relay_drain() first for a
 * clean end; after relay_handover() the store keeps them open). */
Relay *relay_free(Relay *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Relay *, relay_free);

/* Stops accepting (own listeners are closed, so new connections go direct), and ends every
 * relayed connection cleanly: what was read is written, both sides get a FIN, and what they send
 * after it is read and dropped until their own FIN. Returns 1 when nothing was open; else 0 and
 * drained(r, userdata) is called once every connection has closed, or after timeout_usec, when
 * the rest are closed as they are. */
typedef void (*relay_drained_t)(Relay *r, void *userdata);
int relay_drain(Relay *r, uint64_t timeout_usec, relay_drained_t drained, void *userdata);
size_t relay_n_connections(Relay *r);

/* Restart handover (handover.h): the number of store entries relay_handover() needs, and the
 * handing over of every relayed connection (both sockets and unwritten bytes) and of listeners
 * of our own to store. Stops accepting. On failure the relay still works (drain it); what was
 * stored already is for the caller to take back (handover_store_undo()). */
unsigned relay_handover_size(Relay *r);
int relay_handover(Relay *r, HandoverStore *store);

void relay_get_statistics(Relay *r, RelayStatistics *ret);
/* The addresses of the listeners, e.g. "127.0.0.1:15001 [::1]:15001". */
int relay_get_listen_address(Relay *r, char **ret);

/* For new connections from now on (open ones keep theirs). */
int relay_set_upstream(Relay *r, const Upstream *u, UpstreamFallback fallback);
