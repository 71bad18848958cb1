/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The restart handover, orchestrated: which room hands what to the service manager's store, and
 * taking the datapath's pins back after a restart. The store itself is handover.c's. */
#include "datapath.h"
#include "handover.h"
#include "intercept.h"
#include "manager.h"
#include "relay.h"

#define HANDOVER_PIN_PREFIX HANDOVER_PREFIX "pin-"

/* A restart under systemd: the datapath's maps and link, the interception links and the relayed
 * connections go to the store instead of being removed, so that the next process takes them over
 * with nothing torn down in between; rules, routes and accept_local stay for it. A restart is
 * told from a stop by the job systemd runs for our unit: a stop drops the store, which frees the
 * BPF objects (their pins are gone by then), but would leave the routing behind, so a stop
 * tears down itself. */
int manager_handover(Manager *m)
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
                intercept_handover_cancel(m->intercept);
                return 0;
        }
        (void) handover_store_sync(store);
        m->handed_over = true;
        log_info("Restarting: the datapath, interception and relayed connections are handed over.");
        return 1;
}

int manager_repin_handover(Manager *m)
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
