/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "bus-error.h"
#include "bus-manager.h"
#include "datapath.h"
#include "handover.h"
#include "intercept.h"
#include "link.h"
#include "manager.h"
#include "polkit.h"
#include "relay.h"
#include "routing.h"
#include "rtnl.h"
#include "state.h"
#include "util.h"

int manager_new(Manager **ret, Config *c, const char *config_path)
{
        _cleanup_(manager_freep) Manager *m = NULL;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->config = *c;
        config_init(c);
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return -ENOMEM;

        *ret = TAKE_PTR(m);
        return 0;
}

/* Egress first (nothing more is redirected), then the relay, then the routes. */
static void manager_stop_intercept(Manager *m)
{
        m->rtnl = rtnl_free(m->rtnl);
        while (m->links)
                link_free(m->links);
        m->intercept = intercept_free(m->intercept);
        m->relay = relay_free(m->relay);
        m->routing = routing_free(m->routing);
}

#define HANDOVER_PIN_PREFIX HANDOVER_PREFIX "pin-"

/* A restart under systemd: the datapath's maps and link, the interception links and the relayed
 * connections go to the store instead of being removed, so that the next process takes them over
 * with nothing torn down in between; rules, routes and accept_local stay for it. A restart is
 * told from a stop by the job systemd runs for our unit: a stop drops the store, which frees the
 * BPF objects (their pins are gone by then), but would leave the routing behind, so a stop
 * tears down itself. */
static int manager_handover(Manager *m)
{
        _cleanup_(handover_store_freep) HandoverStore *store = NULL;
        DatapathPinned pinned[DATAPATH_N_PINNED];
        unsigned n;
        int r = 0;

        if (!m->datapath)
                return 0;
        n = DATAPATH_N_PINNED + intercept_handover_size(m->intercept) + relay_handover_size(m->relay);
        if (handover_restart_pending(m->bus, n) <= 0 || handover_store_new(&store) < 0)
                return 0;

        datapath_get_pinned(m->datapath, pinned);
        for (size_t i = 0; i < DATAPATH_N_PINNED && r >= 0; i++) {
                char name[64];

                if (pinned[i].fd < 0)
                        continue;
                snprintf(name, sizeof(name), HANDOVER_PIN_PREFIX "%s", pinned[i].name);
                r = handover_store_add(store, name, pinned[i].fd);
        }
        if (r >= 0)
                r = intercept_handover(m->intercept, store);
        if (r >= 0)
                r = relay_handover(m->relay, store);
        if (r < 0) {
                log_warning_errno(r, "Handing over to the next process failed, stopping instead: %m");
                handover_store_undo(store);
                return 0;
        }
        (void) handover_store_sync(store);
        m->handed_over = true;
        log_info("Restarting: the datapath, interception and relayed connections are handed over.");
        return 1;
}

/* After a restart handover: the previous process's pinned objects go back under the pin
 * directory, for datapath_new() to adopt as it adopts a crashed run's. */
static int manager_repin_handover(Manager *m)
{
        const char *name;
        int fd, r;

        while ((fd = handover_take_prefix(m->handover, HANDOVER_PIN_PREFIX, &name)) >= 0) {
                r = datapath_repin(&m->config, name + strlen(HANDOVER_PIN_PREFIX), fd);
                safe_close(fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void manager_log_statistics(Manager *m)
{
        InterceptStatistics is;
        RelayStatistics rs;

        if (m->intercept && intercept_get_statistics(m->intercept, &is) >= 0)
                log_info("Intercept statistics: redirected_packets=%" PRIu64 " new_flows=%" PRIu64
                         " fail_open=%" PRIu64 " passed_direct=%" PRIu64 " bypassed=%" PRIu64
                         " assigned=%" PRIu64 " assign_failed=%" PRIu64 " no_socket=%" PRIu64
                         " errors=%" PRIu64,
                         is.redirected_packets, is.new_flows, is.fail_open, is.passed_direct, is.bypassed,
                         is.assigned, is.assign_failed, is.no_socket, is.errors);
        if (m->relay) {
                relay_get_statistics(m->relay, &rs);
                log_info("Relay statistics: connections_total=%" PRIu64 " connections_active=%" PRIu64
                         " bytes_to_upstream=%" PRIu64 " bytes_to_client=%" PRIu64
                         " connect_failed=%" PRIu64 " connect_timeouts=%" PRIu64 " resets=%" PRIu64
                         " rejected=%" PRIu64 " errors=%" PRIu64 " discarded_bytes=%" PRIu64
                         " taken_over=%" PRIu64,
                         rs.connections_total, rs.connections_active, rs.bytes_to_upstream,
                         rs.bytes_to_client, rs.connect_failed, rs.connect_timeouts, rs.resets,
                         rs.rejected, rs.errors, rs.discarded_bytes, rs.taken_over);
        }
}

static int on_statistics_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        manager_log_statistics(userdata);
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        manager_stop_intercept(m);
        polkit_registry_free(m);
        handover_free(m->handover);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        datapath_free(m->datapath);
        config_done(&m->config);
        free(m->config_path);
        free(m->state_directory);
        free(m);
        return NULL;
}

static void on_relay_drained(Relay *r, void *userdata)
{
        Manager *m = userdata;

        log_debug("Every relayed connection is closed.");
        (void) sd_event_exit(m->event, 0);
}

/* A stop keeps interception and routing in place until the relayed connections are closed
 * (their packets must still reach us), then the event loop ends and manager_stop() tears down. */
static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        int r;

        if (m->stopping) {
                log_info("Received SIG%s again, exiting without waiting for relayed connections.",
                         sigabbrev_np((int) si->ssi_signo));
                return sd_event_exit(m->event, 0);
        }
        m->stopping = true;
        log_info("Received SIG%s, exiting.", sigabbrev_np((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down...");

        if (manager_handover(m) > 0)
                return sd_event_exit(m->event, 0);
        r = relay_drain(m->relay, m->config.stop_timeout_usec, on_relay_drained, m);
        if (r != 0)
                return sd_event_exit(m->event, 0);
        (void) sd_notifyf(false, "STATUS=Closing %zu relayed connection(s)...", relay_n_connections(m->relay));
        return 0;
}

/* The bus and the name first, before any kernel state is touched: a second daemon must fail here,
 * not after it has replaced the first one's rules or pins. Calls queue on the socket and are only
 * answered once the loop runs, so an answered call (not the name) tells clients we are ready. */
static int manager_open_bus(Manager *m)
{
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus at %s (is dbus-daemon running?): %m",
                                       bus_system_address());

        r = sd_bus_request_name(m->bus, "org.skfastpath1", 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Failed to acquire the bus name org.skfastpath1: another skfastpathd "
                                       "owns it.");
        if (r == -EACCES || r == -EPERM)
                return log_error_errno(r, "Failed to acquire the bus name org.skfastpath1: the bus policy does "
                                       "not allow it (is org.skfastpath1.conf installed in "
                                       "/usr/share/dbus-1/system.d/, and dbus-daemon reloaded?): %m");
        if (r < 0)
                return log_error_errno(r, "Failed to acquire the bus name org.skfastpath1: %m");
        return 0;
}

static int manager_connect_bus(Manager *m)
{
        int r;

        r = bus_manager_add_objects(m);
        if (r < 0)
                return r;

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}

static int manager_start_intercept(Manager *m)
{
        sigset_t ss;
        int r;

        /* SIGUSR1 logs the counters (until the bus has GetStatistics everywhere) */
        sigemptyset(&ss);
        sigaddset(&ss, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block SIGUSR1: %m");
        r = sd_event_add_signal(m->event, NULL, SIGUSR1, on_statistics_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGUSR1: %m");

        r = routing_new(&m->routing, &m->config, m->state_directory);
        if (r < 0)
                return r;
        r = relay_new(&m->relay, m->event, &m->config, m->handover);
        if (r < 0)
                return r;
        r = intercept_new(&m->intercept, &m->config, m->handover);
        if (r < 0)
                return r;
        /* the managed names; rtnetlink subscribes, then dumps, and attaches every one present */
        for (size_t i = 0; i < m->config.n_interfaces; i++) {
                r = link_new(m, m->config.interfaces[i], NULL);
                if (r < 0)
                        return log_oom();
        }
        r = rtnl_new(&m->rtnl, m->event, manager_on_rtnl_link, m);
        if (r < 0)
                return r;
        return 0;
}

int manager_start(Manager *m)
{
        sigset_t ss;
        int r;

        /* Runtime changes from earlier runs, on top of the config file, before anything loads. */
        r = state_directory_resolve(&m->config, &m->state_directory);
        if (r < 0)
                return log_oom();
        r = state_load(m->state_directory, &m->config);
        if (r < 0)
                return r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");

        /* Without a bus (or with another daemon on it) nobody could control or stop the datapath:
         * find out before loading it. */
        r = manager_open_bus(m);
        if (r < 0)
                return r;

        /* What systemd passed: the socket unit's listeners and, after a restart, the store. */
        r = handover_new(&m->handover);
        if (r < 0)
                return r;
        r = manager_repin_handover(m);
        if (r < 0)
                return r;

        r = datapath_new(&m->datapath, &m->config);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the sockmap fastpath: %m");

        r = manager_start_intercept(m);
        if (r < 0) {
                if (!datapath_is_adopted(m->datapath))
                        datapath_unpin(m->datapath);
                return r;
        }

        r = manager_connect_bus(m);
        if (r < 0) {
                /* leave no datapath of ours behind; one adopted from a previous run stays for the
                 * next start to adopt */
                manager_stop_intercept(m);
                if (!datapath_is_adopted(m->datapath))
                        datapath_unpin(m->datapath);
                return r;
        }

        /* Everything handed over is ours now (or closed): the store must not hold it any more. */
        handover_release(m->handover);
        m->handover = handover_free(m->handover);
        return 0;
}

void manager_stop(Manager *m)
{
        manager_log_statistics(m);
        if (m->handed_over) {
                routing_keep(m->routing);
                datapath_forget_pins(m->datapath);
                manager_stop_intercept(m);
                return;
        }
        manager_stop_intercept(m);
        datapath_unpin(m->datapath);
}

void manager_emit_interfaces_changed(Manager *m)
{
        /* the bus methods emit for their own changes; this is for what the kernel tells us */
        if (m->in_bus_call)
                return;
        (void) bus_manager_emit_changed(m, "Interfaces");
}

int manager_add_interface(Manager *m, const char *name)
{
        RtnlLink link;
        Link *l;
        int r;

        if (!ifname_valid(name))
                return -EINVAL;
        if (config_has_interface(&m->config, name))
                return 0;
        if (m->config.n_interfaces >= m->config.max_interfaces)
                return -E2BIG;

        /* A name that may not exist yet: attached now when it does, else when it appears. */
        r = config_add_interface(&m->config, name);
        if (r < 0)
                return r;
        r = link_new(m, name, &l);
        if (r < 0) {
                config_remove_interface(&m->config, name);
                return r;
        }
        if (rtnl_get_link(name, &link) >= 0) {
                m->in_bus_call = true;
                manager_on_rtnl_link(m, &link);
                m->in_bus_call = false;
        }
        return 1;
}

int manager_remove_interface(Manager *m, const char *name)
{
        if (!ifname_valid(name))
                return -EINVAL;
        if (!config_has_interface(&m->config, name))
                return -ENOENT;
        link_free(manager_find_link(m, name));
        return config_remove_interface(&m->config, name);
}

int manager_add_port(Manager *m, uint16_t port)
{
        int r;

        if (port == 0)
                return -EINVAL;
        if (config_find_port(&m->config, port))
                return 0;
        if (m->config.n_ports >= m->config.max_ports)
                return -E2BIG;
        if (m->datapath) {
                r = datapath_set_port(m->datapath, port, PORT_MODE_FASTPATH);
                if (r < 0)
                        return r;
        }
        if (m->intercept) {
                r = intercept_set_port(m->intercept, port, true);
                if (r < 0)
                        goto undo_datapath;
        }
        r = config_add_port(&m->config, port, PORT_MODE_FASTPATH);
        if (r >= 0)
                return r;
        if (m->intercept)
                (void) intercept_set_port(m->intercept, port, false);
undo_datapath:
        if (m->datapath)
                (void) datapath_remove_port(m->datapath, port);
        return r;
}

int manager_remove_port(Manager *m, uint16_t port)
{
        if (port == 0)
                return -EINVAL;
        if (!config_find_port(&m->config, port))
                return -ENOENT;
        /* interception first: a refusal there leaves both as they were */
        if (m->intercept) {
                int r = intercept_set_port(m->intercept, port, false);

                if (r < 0)
                        return r;
        }
        if (m->datapath) {
                int r = datapath_remove_port(m->datapath, port);

                if (r < 0) {
                        if (m->intercept)
                                (void) intercept_set_port(m->intercept, port, true);
                        return r;
                }
        }
        return config_remove_port(&m->config, port);
}

int manager_set_fastpath(Manager *m, bool enabled)
{
        if (m->config.fastpath == enabled)
                return 0;
        if (m->datapath) {
                int r = datapath_set_fastpath(m->datapath, enabled);
                if (r < 0)
                        return r;
        }
        m->config.fastpath = enabled;
        return 1;
}

int manager_interface_status(Manager *m, const char *name, int *ret_ifindex, bool *ret_attached)
{
        Link *l = manager_find_link(m, name);

        *ret_ifindex = l ? l->ifindex : 0;
        *ret_attached = l ? l->attached : false;
        return 0;
}

int manager_listen_address(Manager *m, char **ret)
{
        /* TODO(relay): the address the relay's listener is bound to, when it knows better. */
        if (asprintf(ret, "127.0.0.1:%u", m->config.listen_port) < 0)
                return -ENOMEM;
        return 0;
}

/* The counter names are API: document every change in org.skfastpath1(5). */
static size_t statistics_from_datapath(ManagerStatistic *t, const DatapathStatistics *s)
{
        size_t n = 0;

        t[n++] = (ManagerStatistic) { "fastpath-redirects", s->redirected };
        t[n++] = (ManagerStatistic) { "fastpath-bytes", s->redirected_bytes };
        t[n++] = (ManagerStatistic) { "fastpath-misses", s->misses };
        t[n++] = (ManagerStatistic) { "fastpath-passes", s->passed };
        t[n++] = (ManagerStatistic) { "fastpath-passed-bytes", s->passed_bytes };
        t[n++] = (ManagerStatistic) { "fastpath-inserts", s->inserted };
        t[n++] = (ManagerStatistic) { "fastpath-insert-failures", s->insert_failed };
        t[n++] = (ManagerStatistic) { "fastpath-skipped-bypass", s->skipped_mark };
        t[n++] = (ManagerStatistic) { "tracked-sockets", s->tracked_sockets };
        return n;
}

static size_t statistics_from_intercept(ManagerStatistic *t, const InterceptStatistics *s)
{
        size_t n = 0;

        t[n++] = (ManagerStatistic) { "intercepted-packets", s->redirected_packets };
        t[n++] = (ManagerStatistic) { "intercepted-connections", s->new_flows };
        t[n++] = (ManagerStatistic) { "intercept-fail-open", s->fail_open };
        t[n++] = (ManagerStatistic) { "intercept-assigned", s->assigned };
        t[n++] = (ManagerStatistic) { "intercept-assign-failures", s->assign_failed };
        t[n++] = (ManagerStatistic) { "intercept-errors", s->errors };
        return n;
}

int manager_get_statistics(Manager *m, ManagerStatistic *table)
{
        DatapathStatistics ds = {};
        InterceptStatistics is = {};
        uint64_t relayed_connections = 0, relayed_bytes = 0, relay_errors = 0;
        size_t n = 0;
        int r;

        if (m->datapath) {
                r = datapath_get_statistics(m->datapath, &ds);
                if (r < 0)
                        return r;
        }
        if (m->intercept) {
                r = intercept_get_statistics(m->intercept, &is);
                if (r < 0)
                        return r;
        }
        if (m->relay) {
                RelayStatistics rs;

                relay_get_statistics(m->relay, &rs);
                relayed_connections = rs.connections_total;
                relayed_bytes = rs.bytes_to_upstream + rs.bytes_to_client;
                relay_errors = rs.errors;
        }

        n += statistics_from_datapath(table + n, &ds);
        n += statistics_from_intercept(table + n, &is);
        table[n++] = (ManagerStatistic) { "relayed-connections", relayed_connections };
        table[n++] = (ManagerStatistic) { "relayed-bytes", relayed_bytes };
        table[n++] = (ManagerStatistic) { "relay-errors", relay_errors };
        n += manager_upstream_statistics(table + n, m->relay);
        table[n++] = (ManagerStatistic) { "managed-interfaces", m->config.n_interfaces };
        table[n++] = (ManagerStatistic) { "managed-ports", m->config.n_ports };
        return (int) n;
}
