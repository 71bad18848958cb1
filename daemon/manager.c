/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "bus-manager.h"
#include "intercept.h"
#include "manager.h"
#include "relay.h"
#include "routing.h"
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
                         " rejected=%" PRIu64 " errors=%" PRIu64,
                         rs.connections_total, rs.connections_active, rs.bytes_to_upstream,
                         rs.bytes_to_client, rs.connect_failed, rs.connect_timeouts, rs.resets,
                         rs.rejected, rs.errors);
        }
}

static int on_statistics_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        manager_log_statistics(userdata);
        return 0;
}

/* Egress first (nothing more is redirected), then the relay, then the routes. */
static void manager_stop_intercept(Manager *m)
{
        m->intercept = intercept_free(m->intercept);
        m->relay = relay_free(m->relay);
        m->routing = routing_free(m->routing);
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        manager_stop_intercept(m);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
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

/* Attaches interception to the named interface if it exists now: 1 attached, 0 absent or
 * attached already. (Replaced by rtnetlink link tracking.) */
static int manager_attach_interface(Manager *m, const char *name)
{
        _cleanup_close_ int fd = -EBADF;
        struct ifreq ifr = {};
        int ifindex;

        if (!m->intercept)
                return 0;
        ifindex = (int) if_nametoindex(name);
        if (ifindex <= 0)
                return 0;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
                return log_error_errno(errno, "Failed to read the link type of %s: %m", name);
        return intercept_attach(m->intercept, ifindex, ifr.ifr_hwaddr.sa_family);
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

        r = routing_new(&m->routing, &m->config);
        if (r < 0)
                return r;
        r = relay_new(&m->relay, m->event, &m->config);
        if (r < 0)
                return r;
        r = intercept_new(&m->intercept, &m->config);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_interfaces; i++) {
                r = manager_attach_interface(m, m->config.interfaces[i]);
                if (r < 0)
                        log_warning_errno(r, "Not intercepting on %s: %m", m->config.interfaces[i]);
                else if (r > 0)
                        log_info("Intercepting on %s.", m->config.interfaces[i]);
        }
        return 0;
}

int manager_start(Manager *m)
{
        sigset_t ss;
        int r;

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

        r = manager_start_intercept(m);
        if (r < 0)
                return r;

        r = manager_connect_bus(m);
        if (r < 0)
                return r;

        return 0;
}

void manager_stop(Manager *m)
{
        manager_log_statistics(m);
        manager_stop_intercept(m);
}

int manager_add_interface(Manager *m, const char *name)
{
        int r;

        if (!ifname_valid(name))
                return -EINVAL;
        if (config_has_interface(&m->config, name))
                return 0;
        if (m->config.n_interfaces >= m->config.max_interfaces)
                return -E2BIG;
        r = manager_attach_interface(m, name);
        if (r < 0)
                return r;
        r = config_add_interface(&m->config, name);
        if (r < 0 && m->intercept)
                (void) intercept_detach(m->intercept, (int) if_nametoindex(name));
        return r;
}

int manager_remove_interface(Manager *m, const char *name)
{
        if (!ifname_valid(name))
                return -EINVAL;
        if (!config_has_interface(&m->config, name))
                return -ENOENT;
        if (m->intercept)
                (void) intercept_detach(m->intercept, (int) if_nametoindex(name));
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
        if (m->intercept) {
                r = intercept_set_port(m->intercept, port, true);
                if (r < 0)
                        return r;
        }
        r = config_add_port(&m->config, port, PORT_MODE_FASTPATH);
        if (r < 0 && m->intercept)
                (void) intercept_set_port(m->intercept, port, false);
        return r;
}

int manager_remove_port(Manager *m, uint16_t port)
{
        if (port == 0)
                return -EINVAL;
        if (!config_find_port(&m->config, port))
                return -ENOENT;
        if (m->intercept) {
                int r = intercept_set_port(m->intercept, port, false);

                if (r < 0)
                        return r;
        }
        return config_remove_port(&m->config, port);
}

int manager_set_fastpath(Manager *m, bool enabled)
{
        if (m->config.fastpath == enabled)
                return 0;
        m->config.fastpath = enabled;
        return 1;
}
