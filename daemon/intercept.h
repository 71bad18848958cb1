/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Interception: TC egress redirect to lo ingress, lo ingress sk_assign to the listener
 * (bpf/intercept.bpf.c). The policy routing and sysctls that deliver the redirected packets
 * locally are routing.h's. Programs are attached with tcx links that are never pinned: when the
 * daemon dies the kernel detaches them and traffic flows directly (fail open). Where the kernel has
 * no tcx (before 6.6) or AttachMode=clsact, they are TC filters on clsact qdiscs (tc.h), which
 * outlive a crash: the next start purges them, and meanwhile the programs pass what finds no
 * listener (fail open). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

typedef struct Intercept Intercept;

typedef struct InterceptStatistics {
        uint64_t redirected_packets;  /* egress packets sent to lo */
        uint64_t new_flows;           /* SYNs intercepted */
        uint64_t fail_open;           /* SYNs to a managed port passed because no listener */
        uint64_t assigned;            /* lo ingress sk_assign ok */
        uint64_t assign_failed;
        uint64_t errors;
        uint64_t bypassed;            /* egress packets with the bypass mark (relay upstream) */
        uint64_t passed_direct;       /* egress packets of flows that began direct */
        uint64_t no_socket;           /* lo ingress: marked packet, no flow and no listener */
        uint64_t cgroup_unselected;   /* egress SYNs of local sockets outside the selected cgroups */
} InterceptStatistics;

typedef struct Handover Handover;
typedef struct HandoverStore HandoverStore;

/* Loads the TC programs in the current network namespace, attaches lo ingress, fills the port
 * map from c (every port of c is intercepted, whatever its mode). After a restart, the tcx links
 * the previous process handed over (h, may be NULL) get the new programs in place, so packets of
 * intercepted flows never leave unredirected; links on interfaces c no longer manages go. */
int intercept_new(Intercept **ret, const Config *c, Handover *h);
/* Detaches everything (closes the links). */
Intercept *intercept_free(Intercept *ic);
DEFINE_TRIVIAL_CLEANUP_FUNC(Intercept *, intercept_free);

/* Attach the egress program to a link; arphrd (ARPHRD_*, from rtnetlink's ifi_type) picks the
 * Ethernet or layer-3 variant (-EOPNOTSUPP for other link types, -EINVAL for lo). Returns 1 when
 * attached or switched to the other variant, 0 when it was attached already. */
int intercept_attach(Intercept *ic, int ifindex, unsigned short arphrd);
/* Detach. Returns 1 when detached, 0 when it was not attached; a link that is already gone is not
 * an error. */
int intercept_detach(Intercept *ic, int ifindex);
bool intercept_is_attached(Intercept *ic, int ifindex);
/* Whether the kernel still has our program on ifindex: false when the link that had the ifindex
 * was deleted (the kernel detaches, our tcx link stays open until detached), even if another link
 * has the ifindex now. */
bool intercept_is_live(Intercept *ic, int ifindex);

/* Restart handover: the number of store entries intercept_handover() needs, and the handing over
 * itself (the links stay attached while the store holds them). */
unsigned intercept_handover_size(Intercept *ic);
int intercept_handover(Intercept *ic, HandoverStore *store);
/* The handover failed after intercept_handover(): stopping removes our TC filters after all. */
void intercept_handover_cancel(Intercept *ic);

/* "tcx" or "clsact": how the programs are attached (AttachMode=auto resolved); "" without ic. */
const char *intercept_attach_mode(Intercept *ic);

int intercept_set_port(Intercept *ic, uint16_t port, bool managed);
/* The cgroup selection (Cgroups=): a present selected cgroup by its id and level, and the switch
 * over the whole selection (selected: Cgroups= has entries, present or not; levels: bit n when a
 * present one is at level n; all_ports: every destination port, when Ports= is empty). */
int intercept_set_cgroup(Intercept *ic, uint64_t id, unsigned level, bool selected);
int intercept_set_selection(Intercept *ic, bool selected, uint32_t levels, bool all_ports);
int intercept_get_statistics(Intercept *ic, InterceptStatistics *ret);
