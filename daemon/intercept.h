/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Interception: TC egress redirect to lo ingress, lo ingress sk_assign to the listener,
 * plus the policy routing and sysctls that deliver it (bpf/intercept.bpf.c, routing.c).
 * Contract between rooms; the implementation lands with the interception issue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

typedef struct Intercept Intercept;

typedef struct InterceptStatistics {
        uint64_t redirected_packets;  /* egress packets sent to lo */
        uint64_t new_flows;           /* SYNs intercepted */
        uint64_t fail_open;           /* SYNs to a managed port passed because no listener */
        uint64_t assigned;            /* lo ingress sk_assign ok */
        uint64_t assign_failed;
        uint64_t errors;
} InterceptStatistics;

/* Loads the TC programs in the current network namespace, attaches lo ingress, installs the
 * fwmark rules, local routes and sysctls, fills the port map from c. */
int intercept_new(Intercept **ret, const Config *c);
/* Detaches everything, removes rules/routes, restores sysctls. */
Intercept *intercept_free(Intercept *ic);

/* Attach the egress program to a link; arphrd (ARPHRD_*, from rtnetlink's ifi_type) picks the
 * Ethernet or layer-3 variant. Idempotent. */
int intercept_attach(Intercept *ic, int ifindex, unsigned short arphrd);
/* Detach; a link that is already gone is not an error. */
int intercept_detach(Intercept *ic, int ifindex);

int intercept_set_port(Intercept *ic, uint16_t port, bool managed);
int intercept_get_statistics(Intercept *ic, InterceptStatistics *ret);
