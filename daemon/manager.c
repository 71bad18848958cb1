/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager's lifecycle: start (in the order that leaves nothing behind on failure), the
 * signals, and stop. */
#include <signal.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "bus-error.h"
#include "bus-manager.h"
#include "cgroup-set.h"
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
        config_init(&m->config_file);
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return -ENOMEM;

        *ret = TAKE_PTR(m);
        return 0;
}

/* What the relay listens on, or with Relay=no where interception delivers (bpf/intercept.bpf.c
 * looks the listener up on both loopback addresses). */
static int manager_resolve_listen_address(Manager *m)
{
        if (m->relay)
                return relay_get_listen_address(m->relay, &m->listen_address);
        if (asprintf(&m->listen_address, "127.0.0.1:%u [::1]:%u", m->config.listen_port,
                     m->config.listen_port) < 0)
                return -ENOMEM;
        return 0;
}

/* Egress first (nothing more is redirected), then the relay, then the routes. */
static void manager_stop_intercept(Manager *m)
{
        m->rtnl = rtnl_free(m->rtnl);
        m->links = link_set_free(m->links);
        m->cgroups = cgroup_set_free(m->cgroups);
        m->intercept = intercept_free(m->intercept);
        m->relay = relay_free(m->relay);
        m->routing = routing_free(m->routing);
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
        config_done(&m->config_file);
        free(m->config_path);
        free(m->listen_address);
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

        /* SIGUSR1 logs the counters (GetStatistics serves the same table) */
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
        r = manager_resolve_listen_address(m);
        if (r < 0)
                return log_oom();
        r = intercept_new(&m->intercept, &m->config, m->handover);
        if (r < 0)
                return r;
        /* the managed names; rtnetlink subscribes, then dumps, and attaches every one present */
        r = manager_track_cgroups(m);
        if (r < 0)
                return r;
        r = manager_track_links(m);
        if (r < 0)
                return log_oom();
        r = rtnl_new(&m->rtnl, m->event, manager_on_rtnl_link, m);
        if (r < 0)
                return r;
        return 0;
}

int manager_start(Manager *m)
{
        sigset_t ss;
        int r;

        /* Runtime changes from earlier runs, on top of the config file, before anything loads;
         * what the config file says is kept for Revert() and RuntimeChanges. */
        r = state_directory_resolve(&m->config, &m->state_directory);
        if (r < 0)
                return log_oom();
        r = state_copy(&m->config_file, &m->config);
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

        r = manager_fastpath_start(m);
        if (r >= 0)
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

