/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "util.h"

typedef struct Datapath Datapath;
typedef struct Rtnl Rtnl;
typedef struct Relay Relay;
typedef struct Link Link;
typedef struct Intercept Intercept;
typedef struct Routing Routing;
typedef struct Handover Handover;

/* Everything the daemon owns. The config holds the effective state: the config file, then the
 * runtime changes restored from the state directory on top of it. */
typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config config;
        char *config_path;

        Datapath *datapath;
        Rtnl *rtnl;
        Relay *relay;               /* NULL with Relay=no */
        Intercept *intercept;
        Routing *routing;
        Link *links;                /* managed interfaces, present or not (link.h) */
        unsigned link_generation;   /* bumped at each rtnetlink dump */
        bool in_bus_call;           /* a method is changing links: it emits PropertiesChanged itself */
        Handover *handover;         /* while starting: what systemd passed us (handover.h) */
        bool stopping;              /* SIGTERM seen: relayed connections are closing */
        bool handed_over;           /* a restart: the store holds what keeps connections alive */

        char *state_directory;
        sd_bus_slot *polkit_slot;   /* owned by polkit.c */
        void *polkit_registry;
} Manager;

/* Takes over the config (c is reset). */
int manager_new(Manager **ret, Config *c, const char *config_path);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads BPF, enumerates links, opens the listener, connects the bus. */
int manager_start(Manager *m);
/* Detaches and removes everything (after a restart handover: leaves the routing for the next
 * process and only closes our file descriptors, which the service manager's store keeps). */
void manager_stop(Manager *m);

/* The operations behind the D-Bus methods. Return 1 when something changed, 0 when it was
 * already so, -errno on failure with the state unchanged:
 * -EINVAL bad argument, -ENOENT not managed, -E2BIG over a limit, other: kernel refused. */
int manager_add_interface(Manager *m, const char *name);
int manager_remove_interface(Manager *m, const char *name);
int manager_add_port(Manager *m, uint16_t port);
int manager_remove_port(Manager *m, uint16_t port);
int manager_set_fastpath(Manager *m, bool enabled);
/* manager-upstream.c: Upstream= at run time, for new connections; -EINVAL with *reason. */
int manager_set_upstream(Manager *m, const char *url, const char **reason);


/* Emits PropertiesChanged for Interfaces when the kernel changed a managed link. */
void manager_emit_interfaces_changed(Manager *m);

/* The Interfaces property's view of one managed interface. For now: ifindex by name in the
 * daemon's network namespace (0 while absent), never attached; link tracking (link.c) replaces
 * this with what it knows. */
int manager_interface_status(Manager *m, const char *name, int *ret_ifindex, bool *ret_attached);

/* The ListenAddress property: where intercepted connections are delivered. */
int manager_listen_address(Manager *m, char **ret);

/* GetStatistics: counters by name. The names are API (org.skfastpath1(5)); every name is always
 * present, 0 while the room that counts it is not running. */
typedef struct ManagerStatistic {
        const char *name;
        uint64_t value;
} ManagerStatistic;
#define MANAGER_STATISTICS_MAX 40
/* Fills table (room for MANAGER_STATISTICS_MAX) and returns the number of entries, or -errno. */
int manager_get_statistics(Manager *m, ManagerStatistic *table);
/* The upstream-* counters of GetStatistics (relay may be NULL: zeros); returns how many. */
size_t manager_upstream_statistics(ManagerStatistic *t, Relay *relay);
