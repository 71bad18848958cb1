/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The relay's restart handover format. The sockets of every relayed connection travel in flight
 * on a unix socket (SCM_RIGHTS), client then upstream, whose receiving end goes to the store: one
 * store entry however many connections (systemd compares each new entry with every stored one,
 * which takes seconds for a few thousand). Their state and unwritten bytes go in a memfd: a
 * header (magic "SKFPRLY1", the number of connections), then per connection a record (flags, the
 * number of pending bytes of each direction) and those bytes. The layout is what the previous
 * release wrote: a restart across an upgrade hands over too.
 *
 * Errors of the reader, by name:
 *   -ENOENT  the state or the sockets are missing (the handed over sockets are closed);
 *   -EPROTO  the state is not this format (magic);
 *   -EBADMSG the state and the sockets do not match, either is cut short, or a record has
 *            unknown flags;
 *   -E2BIG   a record claims more pending bytes than HANDOVER_MAX_PENDING. */
#pragma once

#include <stdint.h>

#include "relay-buffer.h"
#include "relay-connection.h"
#include "util.h"

#define HANDOVER_MAX_PENDING (64 * 1024 * 1024)

typedef struct HandoverWriter HandoverWriter;

/* A memfd with the header for n_connections, and a socket pair to send the sockets on. */
int handover_writer_new(HandoverWriter **ret, uint32_t n_connections);
HandoverWriter *handover_writer_free(HandoverWriter *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(HandoverWriter *, handover_writer_free);
/* Appends one connection: its flags and pending bytes to the memfd, its two sockets (borrowed:
 * the copies in flight are the kernel's) to the socket. */
int handover_writer_add(HandoverWriter *w, const RelayConnectionState *state);
/* Ends the stream, which must hold as many connections as announced (else -EBADMSG): the memfd
 * in *ret_state and the receiving end of the socket, the sockets in flight then EOF, in
 * *ret_sockets (both the caller's); the sum of pending bytes in *ret_buffered (may be NULL). */
int handover_writer_finish(HandoverWriter *w, int *ret_state, int *ret_sockets, uint64_t *ret_buffered);

typedef struct HandoverReader HandoverReader;

/* Takes state_fd and sockets_fd (either may be negative: -ENOENT), receives every socket and
 * checks them against the header. On failure every received socket is closed. */
int handover_reader_new(HandoverReader **ret, int state_fd, int sockets_fd);
/* Closes the sockets not taken by handover_reader_next(). */
HandoverReader *handover_reader_free(HandoverReader *rd);
DEFINE_TRIVIAL_CLEANUP_FUNC(HandoverReader *, handover_reader_free);
uint32_t handover_reader_n_connections(const HandoverReader *rd);
/* The next connection, in the order they were added: 1 and *ret (its sockets, and its pending
 * bytes in buffers of pool: the caller's), 0 after the last, or a negative errno (the
 * connection's sockets stay with the reader). */
int handover_reader_next(HandoverReader *rd, BufferPool *pool, RelayConnectionState *ret);
