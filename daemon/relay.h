/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The transparent listener on 127.0.0.1 and ::1 at ListenPort, and the built-in relay: each
 * accepted connection is connected to its original destination (getsockname() of the accepted
 * socket) with SO_MARK = BypassMark and copied both ways on sd-event with bounded buffers. */
#pragma once

#include <systemd/sd-event.h>

#include "config.h"
#include "util.h"

typedef struct Relay Relay;

typedef struct RelayStatistics {
        uint64_t connections_total;     /* accepted (not rejected): relayed or tried to */
        uint64_t connections_active;
        uint64_t bytes_to_upstream;     /* client -> original destination */
        uint64_t bytes_to_client;
        uint64_t connect_failed;        /* upstream refused, unreachable or timed out */
        uint64_t connect_timeouts;      /* ... of which timed out (ConnectTimeoutSec=) */
        uint64_t resets;                /* a reset propagated from one side to the other */
        uint64_t rejected;              /* accepted but not intercepted (a direct connection to
                                         * the listener would relay to itself) */
        uint64_t errors;                /* every failure: connect_failed, rejected, socket errors */
} RelayStatistics;

/* Takes the listening sockets systemd passed (sd_listen_fds()), else opens them. With Relay=no
 * the listener belongs to another program: passed sockets are closed, *ret is NULL. */
int relay_new(Relay **ret, sd_event *event, const Config *c);
/* Closes the listeners and every relayed connection. */
Relay *relay_free(Relay *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Relay *, relay_free);

void relay_get_statistics(Relay *r, RelayStatistics *ret);
