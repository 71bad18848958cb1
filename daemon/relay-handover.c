/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>

#include "handover-format.h"
#include "handover.h"
#include "relay-handover.h"

#define HANDOVER_STATE_NAME HANDOVER_PREFIX "relay-state"
#define HANDOVER_SOCKETS_NAME HANDOVER_PREFIX "relay-sockets"

int relay_connections_hand_over(RelayCore *core, HandoverStore *store)
{
        _cleanup_(handover_writer_freep) HandoverWriter *w = NULL;
        _cleanup_close_ int state = -EBADF, sockets = -EBADF;
        uint64_t buffered = 0;
        uint32_t n = 0;
        int q;

        /* Still opening a tunnel through the proxy: the handshake's state is not handed over, and
         * the client has sent nothing through yet; it gets a reset and may try again. */
        for (RelayConnection *c = core->connections, *next; c; c = next) {
                next = relay_connection_next(c);
                if (relay_connection_opening_tunnel(c)) {
                        core->stats.resets++;
                        relay_connection_reset(c);
                }
        }
        for (RelayConnection *c = core->connections; c; c = relay_connection_next(c))
                n++;
        q = handover_writer_new(&w, n);
        if (q < 0)
                return log_error_errno(q, "Failed to prepare the relay's handover: %m");
        for (RelayConnection *c = core->connections; c; c = relay_connection_next(c)) {
                RelayConnectionState st;

                relay_connection_get_state(c, &st);
                q = handover_writer_add(w, &st);
                if (q < 0)
                        return log_error_errno(q, "Failed to write the relay's handover: %m");
        }
        q = handover_writer_finish(w, &state, &sockets, &buffered);
        if (q < 0)
                return log_error_errno(q, "Failed to queue relayed sockets for the handover: %m");

        q = handover_store_add(store, HANDOVER_STATE_NAME, state);
        if (q >= 0)
                q = handover_store_add(store, HANDOVER_SOCKETS_NAME, sockets);
        if (q < 0)
                return q;
        log_info("Handed %" PRIu32 " relayed connection(s) with %" PRIu64 " unwritten bytes to the service manager.",
                 n, buffered);
        return 0;
}

void relay_connections_take_over(RelayCore *core, Handover *h)
{
        _cleanup_(handover_reader_freep) HandoverReader *rd = NULL;
        int state = handover_take(h, HANDOVER_STATE_NAME);
        int sockets = handover_take(h, HANDOVER_SOCKETS_NAME);
        uint64_t buffered = 0;
        uint32_t i;
        int q;

        if (state < 0 && sockets < 0)
                return;
        q = handover_reader_new(&rd, state, sockets);
        if (q == -ENOENT) {
                log_warning("Incomplete relay handover (no %s), closing the handed over sockets.",
                            state < 0 ? "state" : "sockets");
                return;
        }
        if (q < 0) {
                log_warning_errno(q, "Relay handover state does not match the handed over sockets, closing them: %m");
                return;
        }
        for (i = 0;; i++) {
                RelayConnectionState st;
                size_t n;

                q = handover_reader_next(rd, &core->pool, &st);
                if (q == 0)
                        break;
                if (q < 0) {
                        log_warning_errno(q, "Relay handover state is corrupt at connection %" PRIu32 ", "
                                          "closing the rest: %m", i);
                        return;
                }
                n = st.n_pending[0] + st.n_pending[1];
                core->stats.taken_over++;
                q = relay_connection_new(core, &st);
                if (q < 0) {
                        core->stats.errors++;
                        log_warning_errno(q, "Failed to take over relayed connection %" PRIu32 ", "
                                          "closing the rest: %m", i);
                        return;
                }
                buffered += n;
        }
        log_info("Took over %" PRIu32 " relayed connection(s) with %" PRIu64 " unwritten bytes from the previous "
                 "process.", i, buffered);
}
