/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fastpath: sockops on a cgroup v2 + sk_msg on a SOCKHASH (bpf/fastpath.bpf.c).
 * Maps and the cgroup link are pinned under the pin directory; a new datapath adopts them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

typedef struct Datapath Datapath;

typedef enum SpliceDetection {
        SPLICE_DETECTION_OFF,       /* not started */
        SPLICE_DETECTION_ON,        /* the tracing program is attached */
        SPLICE_DETECTION_FAILED,    /* it could not load or attach: the fastpath runs without it */
} SpliceDetection;

/* The most a receiver may have queued (or its receive buffer, if larger) before a connection
 * sending to it leaves the fastpath for good. */
#define DATAPATH_RECEIVE_BOUND (8u * 1024u * 1024u)

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
        uint64_t receivers;         /* sockets put into the receivers map */
        uint64_t passed_bound;      /* connections passed for good: peer had the bound queued */
        uint64_t passed_spliced;    /* connections passed for good: peer was read with splice() */
        uint64_t spliced;           /* receivers seen read with splice() */
        uint64_t passed_unbounded;  /* connections passed: the receiver's queue could not be read */
        SpliceDetection splice_detection;
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

/* Declared receivers by cgroup: ids (0 entries are skipped) replace the previous set. */
int datapath_set_trusted_cgroups(Datapath *d, const uint64_t *ids, size_t n);
/* The cgroup id of a path below the cgroup2 root ("/a/b"); -ENOENT while it does not exist. */
int datapath_cgroup_id(const char *path, uint64_t *ret);

/* The splice safety net's ring buffer: poll the fd (-EBADF when detection is not running) and
 * call datapath_splice_process() when it is readable; the handler sees each detection once. */
typedef void (*DatapathSpliceHandler)(Datapath *d, uint32_t pid, const char *comm, uint16_t port, void *userdata);
int datapath_splice_fd(Datapath *d);
void datapath_splice_process(Datapath *d);
void datapath_set_splice_handler(Datapath *d, DatapathSpliceHandler handler, void *userdata);

/* The relay's listeners carry the bypass mark: the sockets they accept inherit it, and sockops
 * makes them receivers (and never senders). */
int datapath_listener_set_mark(int fd, uint32_t mark);

/* The restart handover (handover.h). The objects that keep the datapath running, by pin name: */
#define DATAPATH_N_PINNED 9
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
