/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Upstream= at run time (SetUpstream()); its counters are manager-statistics.c's. */
#include "manager.h"
#include "relay.h"
#include "upstream.h"
#include "util.h"

int manager_set_upstream(Manager *m, const char *url, const char **reason)
{
        _cleanup_(upstream_done) Upstream u = {};
        _cleanup_free_ char *shown = NULL;
        int r;

        r = upstream_parse(url, &u, reason);
        if (r < 0)
                return r;
        if (upstream_equal(&u, &m->config.upstream))
                return 0;
        if (m->relay) {
                /* new connections only: open ones keep the proxy (or none) they were made with */
                r = relay_set_upstream(m->relay, &u, m->config.upstream_fallback);
                if (r < 0)
                        return r;
        }
        upstream_done(&m->config.upstream);
        m->config.upstream = u;
        u = (Upstream) {};
        shown = upstream_to_string(&m->config.upstream, true);
        log_info("Upstream for new relayed connections: %s%s.", shown ?: "?",
                 m->relay ? "" : " (Relay=no: not used)");
        return 1;
}
