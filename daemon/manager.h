/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager: everything the daemon owns, in four files by job:
 *   manager.c             lifecycle: start, stop, signals, the bus connection
 *   manager-operations.c  the operations behind the D-Bus methods and properties
 *   manager-statistics.c  the one table of counters (GetStatistics, SIGUSR1, the log at stop)
 *   manager-handover.c    the restart handover to and from the service manager's store */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "rtnl.h"
#include "util.h"

typedef struct Datapath Datapath;
typedef struct Rtnl Rtnl;
typedef struct Relay Relay;
typedef struct LinkSet LinkSet;
typedef struct Intercept Intercept;
typedef struct Routing Routing;
typedef struct CgroupSet CgroupSet;
typedef struct Handover Handover;

/* The config holds the effective state: the config file, then the runtime changes restored from
 * the state directory on top of it. */
typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config config;
        Config config_file;         /* the config file's interfaces, ports and switch as read at
                                     * start (state.h): what Revert() goes back to */
        char *config_path;

        Datapath *datapath;
        Rtnl *rtnl;
        Relay *relay;               /* NULL with Relay=no */
        Intercept *intercept;
        Routing *routing;
        LinkSet *links;             /* managed interfaces, present or not (link.h) */
        CgroupSet *cgroups;         /* selected cgroups, present or not (cgroup-set.h); NULL
                                     * without a cgroup2 mount */
        char *listen_address;       /* the ListenAddress property, set at start */
        Handover *handover;         /* while starting: what systemd passed us (handover.h) */
        bool stopping;              /* SIGTERM seen: relayed connections are closing */
        bool handed_over;           /* a restart: the store holds what keeps connections alive */

        char *state_directory;
        sd_bus_slot *polkit_slot;   /* owned by polkit.c */
        void *polkit_registry;
} Manager;

/* manager.c: the lifecycle. */

/* Takes over the config (c is reset). */
int manager_new(Manager **ret, Config *c, const char *config_path);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads BPF, enumerates links, opens the listener, connects the bus. */
int manager_start(Manager *m);
/* Detaches and removes everything (after a restart handover: leaves the routing for the next
 * process and only closes our file descriptors, which the service manager's store keeps). */
void manager_stop(Manager *m);

/* manager-operations.c: the operations behind the D-Bus methods. Return 1 when something
 * changed, 0 when it was already so, -errno on failure with the state unchanged:
 * -EINVAL bad argument, -ENOENT not managed, -E2BIG over a limit, other: kernel refused. */
int manager_add_interface(Manager *m, const char *name);
int manager_remove_interface(Manager *m, const char *name);
int manager_add_port(Manager *m, uint16_t port);
int manager_remove_port(Manager *m, uint16_t port);
int manager_set_fastpath(Manager *m, bool enabled);
/* manager-upstream.c: Upstream= at run time, for new connections; -EINVAL with *reason. */
int manager_set_upstream(Manager *m, const char *url, const char **reason);

int manager_add_cgroup(Manager *m, const char *path);
int manager_remove_cgroup(Manager *m, const char *path);

/* Drops every runtime change: interfaces, ports (with their modes), trusted cgroups and the switch become the
 * config file's again and the state file is removed. On failure everything is as it was.
 * *ret_changed: which properties changed (MANAGER_CHANGED_*). Returns 1 changed, 0 nothing to
 * drop, -errno. */
#define MANAGER_CHANGED_INTERFACES (1u << 0)
#define MANAGER_CHANGED_PORTS      (1u << 1)
#define MANAGER_CHANGED_FASTPATH   (1u << 2)
#define MANAGER_CHANGED_TRUSTED_CGROUPS (1u << 3)
#define MANAGER_CHANGED_CGROUPS    (1u << 4)
int manager_revert(Manager *m, unsigned *ret_changed);

/* manager-fastpath.c: fastpath receivers. -ENOENT: port not managed / cgroup not trusted. */
int manager_set_port_mode(Manager *m, uint16_t port, PortMode mode);
int manager_add_trusted_cgroup(Manager *m, const char *path);
int manager_remove_trusted_cgroup(Manager *m, const char *path);
/* The cgroup's id now, 0 and not present while it does not exist. */
void manager_trusted_cgroup_status(Manager *m, const char *path, uint64_t *ret_id, bool *ret_present);
/* Re-resolves the trusted cgroup paths (a re-created cgroup has a new id). */
int manager_sync_trusted_cgroups(Manager *m);
/* After the datapath is up: trusted cgroups, and the splice reports on the event loop. */
int manager_fastpath_start(Manager *m);


/* rtnetlink events (rtnl.h's handler): link tracking decides, PropertiesChanged for Interfaces
 * tells the bus what the kernel changed. */
void manager_on_rtnl_link(void *userdata, const RtnlLink *ev);
/* Starts link tracking of the managed interfaces (before rtnl_new() dumps the links). */
int manager_track_links(Manager *m);

/* The Interfaces property's view of one managed interface: its ifindex (0 while absent) and
 * whether interception is attached to it. */
void manager_interface_status(Manager *m, const char *name, int *ret_ifindex, bool *ret_attached);

/* Starts following the selected cgroups (after intercept_new()), and the Cgroups property's view
 * of one: its id (0 while absent). */
int manager_track_cgroups(Manager *m);
uint64_t manager_cgroup_id(Manager *m, const char *path);
/* Hands the whole selection (Cgroups= in force, the levels present, whether Ports= limits it) to
 * interception; after every change of the cgroups or the ports. */
void manager_update_selection(Manager *m);

/* manager-statistics.c: GetStatistics, counters by name. The names are API
 * (org.skfastpath1(5)); every name is always present, 0 while the room that counts it is not
 * running. */
typedef struct ManagerStatistic {
        const char *name;
        uint64_t value;
} ManagerStatistic;
#define MANAGER_N_STATISTICS 46
/* Fills table (MANAGER_N_STATISTICS entries) and returns the number of entries, or -errno. */
int manager_get_statistics(Manager *m, ManagerStatistic table[static MANAGER_N_STATISTICS]);
/* Logs every counter of the same table in one line (SIGUSR1, and at stop). */
void manager_log_statistics(Manager *m);

/* manager-handover.c: the restart handover. Returns 1 when everything that keeps the datapath,
 * interception and relayed connections alive went to the store (a restart), 0 for a stop. */
int manager_handover(Manager *m);
/* After a restart handover: the previous process's pinned objects go back under the pin
 * directory, for datapath_new() to adopt as it adopts a crashed run's. */
int manager_repin_handover(Manager *m);
