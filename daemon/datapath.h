/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fastpath: sockops on a cgroup v2 + sk_msg on a SOCKHASH (bpf/fastpath.bpf.c).
 * Maps and the cgroup link are pinned under the pin directory; a new datapath adopts them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

typedef struct Datapath Datapath;

typedef struct DatapathStatistics {
        uint64_t redirected;        /* sk_msg messages sent straight to the peer socket */
        uint64_t redirected_bytes;
        uint64_t misses;            /* peer not in the sockhash: passed to TCP */
        uint64_t passed;            /* switched off, or pass-large-writes */
        uint64_t passed_bytes;
        uint64_t inserted;          /* sockets put into the sockhash */
        uint64_t insert_failed;     /* sockhash full */
        uint64_t skipped_mark;      /* sockets with the bypass mark, never inserted */
        uint64_t tracked_sockets;   /* entries in the sockhash now */
} DatapathStatistics;

/* Loads the programs (or adopts the pinned ones under c->pin_directory), attaches sockops to
 * c->cgroup_path (or the cgroup2 root) and sk_msg to the sockhash, fills the port map from c. */
int datapath_new(Datapath **ret, const Config *c);
/* Closes our fds; pins stay (a restart adopts them). */
Datapath *datapath_free(Datapath *d);
/* Clean stop: detach and unpin everything. */
void datapath_unpin(Datapath *d);

int datapath_set_port(Datapath *d, uint16_t port, PortMode mode);
int datapath_remove_port(Datapath *d, uint16_t port);
/* Off: new connections stay plain TCP and established ones pass from their next write on, for
 * ever (one-way per connection); on again only speeds up new connections. */
int datapath_set_fastpath(Datapath *d, bool enabled);
/* 0: off; otherwise a connection passes for ever from its first message of this size or more. */
int datapath_set_pass_large_writes(Datapath *d, uint64_t threshold);
int datapath_get_statistics(Datapath *d, DatapathStatistics *ret);
const char *datapath_get_pin_directory(const Datapath *d);
const char *datapath_get_cgroup_path(const Datapath *d);
/* Whether some pin of a previous run was reused (a crashed daemon's datapath goes on running). */
bool datapath_is_adopted(const Datapath *d);

/* The restart handover (handover.h). The objects that keep the datapath running, by pin name: */
#define DATAPATH_N_PINNED 6
typedef struct DatapathPinned {
        const char *name;   /* the file name under the pin directory */
        int fd;             /* owned by d */
} DatapathPinned;
void datapath_get_pinned(Datapath *d, DatapathPinned ret[static DATAPATH_N_PINNED]);
/* Stopping for a restart that holds the objects elsewhere: removes the pins and the pin directory
 * but leaves the programs attached and the fastpath as it is. */
void datapath_forget_pins(Datapath *d);
/* Starting after such a restart: pins fd (a map or link of the previous process) under the pin
 * directory of c as name, unless something is pinned there already, so that datapath_new()
 * adopts it. Returns 1 pinned, 0 left alone (name unknown, or a pin exists), -errno. */
int datapath_repin(const Config *c, const char *name, int fd);
DEFINE_TRIVIAL_CLEANUP_FUNC(Datapath *, datapath_free);
