/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every counter the daemon has, in one table: GetStatistics serves it, SIGUSR1 and the stop log
 * it. The names are API: document every change in org.skfastpath1(5). */
#include <inttypes.h>
#include <stddef.h>

#include "datapath.h"
#include "intercept.h"
#include "manager.h"
#include "relay.h"

/* What the rooms count, read at once. */
typedef struct Counters {
        DatapathStatistics datapath;
        InterceptStatistics intercept;
        RelayStatistics relay;
        uint64_t relayed_bytes;       /* both directions */
        uint64_t managed_interfaces;
        uint64_t managed_ports;
} Counters;

typedef struct Statistic {
        const char *name;
        size_t offset;                /* of a uint64_t in Counters */
} Statistic;

#define S(name, field) { name, offsetof(Counters, field) }
static const Statistic statistics[] = {
        S("fastpath-redirects", datapath.redirected),
        S("fastpath-bytes", datapath.redirected_bytes),
        S("fastpath-misses", datapath.misses),
        S("fastpath-passes", datapath.passed),
        S("fastpath-passed-bytes", datapath.passed_bytes),
        S("fastpath-inserts", datapath.inserted),
        S("fastpath-insert-failures", datapath.insert_failed),
        S("fastpath-skipped-bypass", datapath.skipped_mark),
        S("tracked-sockets", datapath.tracked_sockets),
        S("fastpath-receivers", datapath.receivers),
        S("fastpath-passed-bound", datapath.passed_bound),
        S("fastpath-passed-unbounded", datapath.passed_unbounded),
        S("fastpath-passed-spliced", datapath.passed_spliced),
        S("fastpath-spliced", datapath.spliced),
        S("splice-detection", datapath.splice_detection),
        S("intercepted-packets", intercept.redirected_packets),
        S("intercepted-connections", intercept.new_flows),
        S("intercept-fail-open", intercept.fail_open),
        S("intercept-assigned", intercept.assigned),
        S("intercept-assign-failures", intercept.assign_failed),
        S("intercept-errors", intercept.errors),
        S("intercept-bypassed", intercept.bypassed),
        S("intercept-passed-direct", intercept.passed_direct),
        S("intercept-no-socket", intercept.no_socket),
        S("intercept-cgroup-unselected", intercept.cgroup_unselected),
        S("relayed-connections", relay.connections_total),
        S("relayed-bytes", relayed_bytes),
        S("relay-errors", relay.errors),
        S("relay-active-connections", relay.connections_active),
        S("relayed-bytes-to-upstream", relay.bytes_to_upstream),
        S("relayed-bytes-to-client", relay.bytes_to_client),
        S("relay-connect-failures", relay.connect_failed),
        S("relay-connect-timeouts", relay.connect_timeouts),
        S("relay-resets", relay.resets),
        S("relay-rejected", relay.rejected),
        S("relay-discarded-bytes", relay.discarded_bytes),
        S("relay-taken-over", relay.taken_over),
        S("upstream-tunnels", relay.upstream_tunnels),
        S("upstream-unreachable", relay.upstream_failures[UPSTREAM_FAILURE_UNREACHABLE]),
        S("upstream-refused", relay.upstream_failures[UPSTREAM_FAILURE_REFUSED]),
        S("upstream-auth-failed", relay.upstream_failures[UPSTREAM_FAILURE_AUTH]),
        S("upstream-protocol-errors", relay.upstream_failures[UPSTREAM_FAILURE_PROTOCOL]),
        S("upstream-timeouts", relay.upstream_failures[UPSTREAM_FAILURE_TIMEOUT]),
        S("upstream-fallbacks", relay.upstream_fallbacks),
        S("managed-interfaces", managed_interfaces),
        S("managed-ports", managed_ports),
};
#undef S

_Static_assert(ELEMENTSOF(statistics) == MANAGER_N_STATISTICS, "MANAGER_N_STATISTICS is the table's size");

static int manager_read_counters(Manager *m, Counters *ret)
{
        int r;

        *ret = (Counters) {};
        if (m->datapath) {
                r = datapath_get_statistics(m->datapath, &ret->datapath);
                if (r < 0)
                        return r;
        }
        if (m->intercept) {
                r = intercept_get_statistics(m->intercept, &ret->intercept);
                if (r < 0)
                        return r;
        }
        if (m->relay)
                relay_get_statistics(m->relay, &ret->relay);
        ret->relayed_bytes = ret->relay.bytes_to_upstream + ret->relay.bytes_to_client;
        ret->managed_interfaces = m->config.n_interfaces;
        ret->managed_ports = m->config.n_ports;
        return 0;
}

static uint64_t counter(const Counters *c, const Statistic *s)
{
        return *(const uint64_t *) ((const uint8_t *) c + s->offset);
}

int manager_get_statistics(Manager *m, ManagerStatistic table[static MANAGER_N_STATISTICS])
{
        Counters c;
        int r;

        r = manager_read_counters(m, &c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(statistics); i++)
                table[i] = (ManagerStatistic) { statistics[i].name, counter(&c, &statistics[i]) };
        return (int) ELEMENTSOF(statistics);
}

void manager_log_statistics(Manager *m)
{
        char line[MANAGER_N_STATISTICS * 48];
        size_t n = 0;
        Counters c;
        int r;

        r = manager_read_counters(m, &c);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the counters: %m");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(statistics) && n < sizeof(line); i++)
                n += (size_t) snprintf(line + n, sizeof(line) - n, " %s=%" PRIu64, statistics[i].name,
                                       counter(&c, &statistics[i]));
        log_info("Statistics:%s", line);
}
