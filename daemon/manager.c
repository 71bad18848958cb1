/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <net/if.h>
#include <signal.h>

#include "bus-manager.h"
#include "link.h"
#include "rtnl.h"
#include "datapath.h"
#include "intercept.h"
#include "manager.h"
#include "polkit.h"
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

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        while (m->links)
                link_free(m->links);
        rtnl_free(m->rtnl);
        polkit_registry_free(m);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        datapath_free(m->datapath);
        config_done(&m->config);
        free(m->config_path);
        free(m->state_directory);
        free(m);
        return NULL;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        log_info("Received SIG%s, exiting.", sigabbrev_np((int) si->ssi_signo));
        return sd_event_exit(m->event, 0);
}

static int manager_connect_bus(Manager *m)
{
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        r = bus_manager_add_objects(m);
        if (r < 0)
                return r;

        r = sd_bus_request_name(m->bus, "org.skfastpath1", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire the bus name org.skfastpath1: %m");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
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

        r = datapath_new(&m->datapath, &m->config);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the sockmap fastpath: %m");

        r = manager_connect_bus(m);
        if (r < 0)
                return r;

        for (size_t i = 0; i < m->config.n_interfaces; i++) {
                r = link_new(m, m->config.interfaces[i], NULL);
                if (r < 0)
                        return log_oom();
        }
        /* subscribes, then dumps: every configured link present now is attached from the dump */
        r = rtnl_new(&m->rtnl, m->event, manager_on_rtnl_link, m);
        if (r < 0)
                return r;

        return 0;
}

void manager_stop(Manager *m)
{
        m->rtnl = rtnl_free(m->rtnl);
        while (m->links)
                link_free(m->links);
        datapath_unpin(m->datapath);
}

void manager_emit_interfaces_changed(Manager *m)
{
        /* the bus methods emit for their own changes; this is for what the kernel tells us */
        if (m->in_bus_call)
                return;
        (void) bus_manager_emit_changed(m, "Interfaces");
}

/* A managed name that may not exist yet: attached now when it does, else when it appears. */
static int manager_link_add(Manager *m, const char *name)
{
        RtnlLink link;
        Link *l;
        int r;

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

int manager_add_interface(Manager *m, const char *name)
{
        if (!ifname_valid(name))
                return -EINVAL;
        if (config_has_interface(&m->config, name))
                return 0;
        if (m->config.n_interfaces >= m->config.max_interfaces)
                return -E2BIG;
        return manager_link_add(m, name);
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
        r = config_add_port(&m->config, port, PORT_MODE_FASTPATH);
        if (r < 0 && m->datapath)
                (void) datapath_remove_port(m->datapath, port);
        return r;
}

int manager_remove_port(Manager *m, uint16_t port)
{
        if (port == 0)
                return -EINVAL;
        if (!config_find_port(&m->config, port))
                return -ENOENT;
        if (m->datapath) {
                int r = datapath_remove_port(m->datapath, port);
                if (r < 0)
                        return r;
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
        /* TODO(merge): intercept_get_statistics() and the relay's counters. */

        n += statistics_from_datapath(table + n, &ds);
        n += statistics_from_intercept(table + n, &is);
        table[n++] = (ManagerStatistic) { "relayed-connections", relayed_connections };
        table[n++] = (ManagerStatistic) { "relayed-bytes", relayed_bytes };
        table[n++] = (ManagerStatistic) { "relay-errors", relay_errors };
        table[n++] = (ManagerStatistic) { "managed-interfaces", m->config.n_interfaces };
        table[n++] = (ManagerStatistic) { "managed-ports", m->config.n_ports };
        return (int) n;
}
