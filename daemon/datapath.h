/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fastpath: sockops on a cgroup v2 + sk_msg on a SOCKHASH (bpf/fastpath.bpf.c).
 * Contract between rooms; the implementation lands with the fastpath issue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

typedef struct Datapath Datapath;

typedef struct DatapathStatistics {
        uint64_t redirected;        /* sk_msg messages sent straight to the peer socket */
        uint64_t redirected_bytes;
        uint64_t misses;            /* peer not in the sockhash: passed to TCP */
        uint64_t passed;            /* switched off, or pass-large-writes */
        uint64_t passed_bytes;
        uint64_t inserted;          /* sockets put into the sockhash */
        uint64_t insert_failed;     /* sockhash full */
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
int datapath_set_fastpath(Datapath *d, bool enabled);
int datapath_get_statistics(Datapath *d, DatapathStatistics *ret);
