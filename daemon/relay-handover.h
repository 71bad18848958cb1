/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The relayed connections across a restart (handover.h): both sockets, the state and the unwritten
 * bytes of every connection go to the service manager's store as two entries (the format is
 * handover-format.h's), and the next process takes them back into its RelayCore. */
#pragma once

#include "relay-connection.h"

typedef struct Handover Handover;
typedef struct HandoverStore HandoverStore;

#define RELAY_HANDOVER_N_ENTRIES 2

/* Hands every connection of core over to store; they stay in core (open) until it is freed. */
int relay_connections_hand_over(RelayCore *core, HandoverStore *store);
/* Takes over what the previous process handed over, if anything. Errors are logged; sockets that
 * cannot be taken over are closed (their peers see them end). */
void relay_connections_take_over(RelayCore *core, Handover *h);
