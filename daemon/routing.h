/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy routing that delivers intercepted packets locally, in the daemon's network namespace:
 * for IPv4 and IPv6 a rule "fwmark Mark lookup RoutingTable" at RulePriority, a "local default
 * dev lo" route in that table, and net.ipv4.conf.lo.accept_local=1 (the redirected packets carry
 * a local source address). Set up over rtnetlink and /proc/sys; removed and restored on free. */
#pragma once

#include "config.h"
#include "util.h"

typedef struct Routing Routing;

/* Removes stale rules and routes of ours (a crashed run) first, so starting twice stacks nothing. */
int routing_new(Routing **ret, const Config *c);
/* Removes the rules and routes and restores accept_local to what it was. */
Routing *routing_free(Routing *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Routing *, routing_free);
