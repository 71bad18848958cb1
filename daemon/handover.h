/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The restart handover. Under systemd, `systemctl restart` hands what keeps the datapath and the
 * relayed connections alive to the service manager's file descriptor store (FDSTORE=1, kept across
 * a restart, dropped on a stop), and the next start takes it back from the passed fds
 * (sd_listen_fds_with_names()). Our store entries are named "skfp-..."; every other passed fd is
 * a listener of the socket unit. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "util.h"

#define HANDOVER_PREFIX "skfp-"

typedef struct Handover Handover;

/* Collects the passed fds (and unsets LISTEN_FDS and friends). Never fails for want of fds. */
int handover_new(Handover **ret);
/* Closes whatever nobody took. */
Handover *handover_free(Handover *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Handover *, handover_free);

/* The next fd (in the order systemd passed them) that is not ours: a listener. -ENOENT when none
 * is left. The caller owns the fd. */
int handover_take_listener(Handover *h);
/* Ours, by exact name: the fd, or -ENOENT. */
int handover_take(Handover *h, const char *name);
/* Ours, the next one whose name starts with prefix: the fd, its name in *ret_name (owned by h,
 * valid until handover_free()), or -ENOENT. */
int handover_take_prefix(Handover *h, const char *prefix, const char **ret_name);
/* Number of our entries received (taken or not). */
size_t handover_n_stored(const Handover *h);
/* Tells systemd to drop every store entry we received (FDSTOREREMOVE=1): once the new datapath
 * and relay hold them, the store must not keep sockets or links alive behind their back. Closes
 * the entries nobody took. */
void handover_release(Handover *h);

/* Stopping. Whether the stop in progress is a restart that can hand over: systemd is our service
 * manager (NOTIFY_SOCKET), our unit has a "restart" job running, and its FileDescriptorStoreMax=
 * has room for n_needed entries. 1 yes, 0 no (a stop, not under systemd, no room; why is logged
 * at debug level or as a warning for a too small store), never an error. */
int handover_restart_pending(sd_bus *bus, unsigned n_needed);
/* What this process hands to the store while stopping for a restart, so that a failed handover
 * can take it back. The manager creates one per handover and passes it to the rooms it asks. */
typedef struct HandoverStore HandoverStore;

int handover_store_new(HandoverStore **ret);
/* Forgets the names; what was stored stays stored (handover_store_undo() takes it back). */
HandoverStore *handover_store_free(HandoverStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HandoverStore *, handover_store_free);
/* Hands fd (a dup is kept by systemd; ours stays open) to the store as name, with FDPOLL=0:
 * systemd must not close a socket of ours because its peer hung up. */
int handover_store_add(HandoverStore *s, const char *name, int fd);
/* Waits (bounded) until systemd has processed every store message sent so far. */
int handover_store_sync(HandoverStore *s);
/* Takes back every entry stored through s (after a failed handover). */
void handover_store_undo(HandoverStore *s);
