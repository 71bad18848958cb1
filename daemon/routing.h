/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy routing that delivers intercepted packets locally, in the daemon's network namespace:
 * for IPv4 and IPv6 a rule "fwmark Mark lookup RoutingTable" at RulePriority, a "local default
 * dev lo" route in that table, and net.ipv4.conf.lo.accept_local=1 (the redirected packets carry
 * a local source address). Set up over rtnetlink and /proc/sys; removed and restored on free. */
#pragma once

#include "config.h"
#include "util.h"

typedef struct Routing Routing;

/* Keeps the rule and route a previous run left (a crash, a restart handover) instead of stacking a
 * second copy. The original value of accept_local is saved under state_directory (NULL: not
 * saved) until a clean stop restores it, so that a crash does not lose it. */
int routing_new(Routing **ret, const Config *c, const char *state_directory);
/* Removes the rules and routes and restores accept_local to what it was, unless routing_keep(). */
Routing *routing_free(Routing *r);
/* A restart that hands its connections over: leave rules, routes and accept_local for the next
 * process (which finds them, and the saved original value, at its start). */
void routing_keep(Routing *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Routing *, routing_free);
